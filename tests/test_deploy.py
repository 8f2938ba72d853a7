"""The scaled deployment: docker-compose.yml, the Dockerfile and the nginx config.

No Docker engine runs here, so the compose file is checked against the Compose
specification schema (check-jsonschema's builtin ``vendor.compose-spec``) and read
for what an operator relies on; every ``festival`` command the files run is parsed
by the real CLI, and the health-check commands are run against a real server.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from api.cli.commands import app as cli_app
from festival.settings import Settings
from tests.conftest import LiveServer
from tests.test_lock import uv_version

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COMPOSE = ROOT / "docker-compose.yml"
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "FESTIVAL_SECRET_KEY": "a-long-random-secret-key-for-the-deploy-test",
}


# -- readers ---------------------------------------------------------------------------


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose interpolation: ``${X}``, ``${X:-default}``, ``${X:?error}``."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


def environment(service: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    raw = service.get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {key: interpolate(str(value), env) for key, value in raw.items()}


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def nginx_blocks(text: str) -> list[tuple[list[str], Any]]:
    """nginx config as nested ``(directive words, children or None)``."""
    text = re.sub(r"#[^\n]*", "", text)
    tokens = re.findall(r'"[^"]*"|[{};]|[^\s{};"]+', text)

    def parse(pos: int) -> tuple[list[tuple[list[str], Any]], int]:
        nodes: list[tuple[list[str], Any]] = []
        words: list[str] = []
        while pos < len(tokens):
            token, pos = tokens[pos], pos + 1
            if token == ";":
                nodes.append((words, None))
                words = []
            elif token == "{":
                children, pos = parse(pos)
                nodes.append((words, children))
                words = []
            elif token == "}":
                return nodes, pos
            else:
                words.append(token.strip('"'))
        return nodes, pos

    return parse(0)[0]


def find(nodes: list[tuple[list[str], Any]], *words: str) -> list[tuple[list[str], Any]]:
    """Every node, at any depth, whose first words are ``words``."""
    found = []
    for head, children in nodes:
        if head[: len(words)] == list(words):
            found.append((head, children))
        if children:
            found.extend(find(children, *words))
    return found


def parse_cli(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse a ``festival ...`` command line with the real CLI, without running it."""
    assert argv[0] == "festival", argv
    command: Any = cli_app
    args, path = list(argv[1:]), []
    while hasattr(command, "list_commands"):  # a group: descend to the subcommand
        name = args.pop(0)
        sub = command.get_command(command.context_class(command), name)
        assert sub is not None, f"festival has no command {' '.join([*path, name])!r}"
        command, path = sub, [*path, name]
    context = command.make_context(" ".join(path), args)
    return " ".join(path), context.params


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture(scope="module")
def apps(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {n: s for n, s in services.items() if s.get("command", [])[1:2] == ["serve"]}
    assert found, "no service runs `festival serve`"
    return found


@pytest.fixture(scope="module")
def nginx(services: dict[str, dict[str, Any]]) -> list[tuple[list[str], Any]]:
    mounts = [v.split(":") for v in services["proxy"]["volumes"]]
    sources = [ROOT / src for src, target, *_ in mounts if target == "/etc/nginx/nginx.conf"]
    assert len(sources) == 1, "the proxy does not mount its nginx.conf"
    return nginx_blocks(sources[0].read_text())


# -- the Compose specification ---------------------------------------------------------


def check_compose_spec(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", path],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    result = check_compose_spec(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_rejects_a_misspelled_service_key(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    healthcheck:", "    healthchek:", 1))
    result = check_compose_spec(broken)
    assert result.returncode != 0
    assert "healthchek" in result.stdout + result.stderr


def test_compose_has_no_obsolete_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose


# -- what an operator relies on ----------------------------------------------------------


def test_at_least_two_app_replicas_serve(apps: dict[str, dict[str, Any]]) -> None:
    replicas = sum(s.get("deploy", {}).get("replicas", 1) for s in apps.values())
    assert replicas >= 2


def test_only_the_proxy_publishes_a_port(services: dict[str, dict[str, Any]]) -> None:
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"proxy"}
    assert any(str(p).split(":")[0] == "8080" for p in services["proxy"]["ports"])


def test_migrate_completes_before_any_app_starts(
    services: dict[str, dict[str, Any]], apps: dict[str, dict[str, Any]]
) -> None:
    migrate = services["migrate"]
    assert parse_cli(migrate["command"])[0] == "db upgrade"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart", "no") == "no"
    for app in apps.values():
        assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert app["depends_on"]["redis"]["condition"] == "service_healthy"


def test_every_long_running_service_has_a_health_check(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if name == "migrate":
            continue
        check = service.get("healthcheck", {})
        assert check.get("test"), f"{name} has no health check"
        assert not check.get("disable"), f"{name} disables its health check"


def test_apps_get_the_postgresql_and_redis_urls_the_settings_accept(
    services: dict[str, dict[str, Any]],
    apps: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for app in apps.values():
        env = environment(app, SECRETS)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        assert settings.environment == "production"
        assert settings.secret_key == SECRETS["FESTIVAL_SECRET_KEY"]
        database = urlsplit(settings.database_url)
        assert database.scheme == "postgresql+asyncpg"
        assert database.hostname in services
        assert services[database.hostname]["image"].startswith("postgres:")
        assert database.password == SECRETS["POSTGRES_PASSWORD"]
        assert settings.redis_url
        redis = urlsplit(settings.redis_url)
        assert redis.scheme == "redis"
        assert redis.hostname in services
        assert services[redis.hostname]["image"].startswith("redis:")
        assert app["depends_on"][redis.hostname]["condition"] == "service_healthy"


def test_secrets_must_be_given_to_start_the_stack(services: dict[str, dict[str, Any]]) -> None:
    needs = {"migrate": SECRETS, "app": SECRETS, "postgres": ["POSTGRES_PASSWORD"]}
    for name, required in needs.items():
        assert environment(services[name], SECRETS)
        for missing in required:
            env = {k: v for k, v in SECRETS.items() if k != missing}
            with pytest.raises(KeyError, match=missing):
                environment(services[name], env)


def test_cli_parsing_here_rejects_unknown_commands_and_bad_options() -> None:
    with pytest.raises(AssertionError, match="no command 'db downgrade'"):
        parse_cli(["festival", "db", "downgrade"])
    with pytest.raises(Exception, match="not in the range 1<=x<=65535"):
        parse_cli(["festival", "serve", "--port", "0"])
    with pytest.raises(Exception, match="No such option '--bind'"):
        parse_cli(["festival", "serve", "--bind", "0.0.0.0"])


def test_commands_in_compose_are_accepted_by_the_cli(apps: dict[str, dict[str, Any]]) -> None:
    for app in apps.values():
        name, params = parse_cli(app["command"])
        assert name == "serve"
        assert params["host"] == "0.0.0.0"
        assert f"{params['port']}" in " ".join(app["healthcheck"]["test"])


# -- the proxy -------------------------------------------------------------------------


def test_proxy_routes_websockets_with_upgrade_headers_and_long_timeouts(
    nginx: list[tuple[list[str], Any]],
) -> None:
    [(_, ws)] = find(nginx, "location", "/ws/")
    [(proxy_pass, _)] = find(ws, "proxy_pass")
    assert proxy_pass[1].startswith("http://")
    assert ["proxy_set_header", "Upgrade", "$http_upgrade"] in [h for h, _ in ws]
    [(connection, _)] = find(ws, "proxy_set_header", "Connection")
    [(_, values)] = find(nginx, "map", "$http_upgrade", connection[2])
    assert ["default", "upgrade"] in [v for v, _ in values]
    [(version, _)] = find(nginx, "proxy_http_version")
    assert version[1] == "1.1"
    [(read_timeout, _)] = find(ws, "proxy_read_timeout")
    assert int(read_timeout[1].rstrip("s")) >= 600


def test_proxy_balances_over_the_app_replicas_without_stickiness(
    nginx: list[tuple[list[str], Any]], apps: dict[str, dict[str, Any]]
) -> None:
    app_ports = {parse_cli(app["command"])[1]["port"] for app in apps.values()}
    for head, _ in find(nginx, "proxy_pass"):
        upstream = head[1].removeprefix("http://")
        [(_, servers)] = find(nginx, "upstream", upstream)
        targets = {tuple(h[1].split(":")) for h, _ in servers if h[0] == "server"}
        assert targets
        assert {host for host, _ in targets} <= set(apps)
        assert {int(port) for _, port in targets} <= app_ports
        assert not {h[0] for h, _ in servers} & {"ip_hash", "hash", "sticky"}


# -- the Dockerfile --------------------------------------------------------------------


def test_image_is_python_311_slim_running_as_a_non_root_user() -> None:
    stage = final_stage()
    assert stage[0] == ("FROM", "python:3.11-slim")
    users = [arg.split(":")[0] for word, arg in stage if word == "USER"]
    assert users
    assert users[-1] not in {"root", "0"}


def test_image_installs_the_locked_project_without_editable_mode_or_dev_extras() -> None:
    runs = [arg for word, arg in dockerfile_instructions() if word == "RUN"]
    syncs = [arg for arg in runs if arg.startswith("uv sync")]
    assert syncs, runs
    assert all("--locked" in arg for arg in syncs), syncs
    assert "--no-editable" in syncs[-1]
    assert not any("--extra" in arg or "--all-extras" in arg for arg in syncs)
    # Nothing reaches the image around the lock: no pip install but uv's own pinned one.
    pip_installs = [arg for arg in runs if "pip install" in arg]
    assert pip_installs == [f"pip install uv=={uv_version()}"]


def test_image_default_command_is_a_real_cli_command_on_the_exposed_port() -> None:
    stage = final_stage()
    [cmd] = [json.loads(arg) for word, arg in stage if word == "CMD"]
    assert not [arg for word, arg in stage if word == "ENTRYPOINT"]
    name, params = parse_cli(cmd)
    assert name == "serve"
    assert params["host"] == "0.0.0.0"
    assert [arg for word, arg in stage if word == "EXPOSE"] == [str(params["port"])]
    result = subprocess.run(
        [BIN / "festival", *cmd[1:2], "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for option in (a for a in cmd[2:] if a.startswith("--")):
        assert option in result.stdout


def test_build_context_leaves_local_state_and_secrets_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "festival.db*", ".festival-secret"} <= ignored


def health_commands(services: dict[str, dict[str, Any]]) -> list[list[str]]:
    [docker] = [arg for word, arg in final_stage() if word == "HEALTHCHECK"]
    from_dockerfile = json.loads(docker.split(" CMD ", 1)[1])
    return [from_dockerfile, services["app"]["healthcheck"]["test"][1:]]


async def test_app_health_checks_pass_against_a_running_server(
    live_server: LiveServer, services: dict[str, dict[str, Any]]
) -> None:
    for command in health_commands(services):
        assert command[0] == "python"
        code = command[-1]
        assert "http://127.0.0.1:8000/" in code
        code = code.replace("http://127.0.0.1:8000", live_server.url)
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
        assert await asyncio.wait_for(process.wait(), 30) == 0, command


async def test_app_health_checks_fail_when_nothing_answers(
    services: dict[str, dict[str, Any]],
) -> None:
    for command in health_commands(services):
        code = command[-1].replace("http://127.0.0.1:8000", "http://127.0.0.1:9")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, stderr=asyncio.subprocess.DEVNULL
        )
        assert await asyncio.wait_for(process.wait(), 30) != 0
