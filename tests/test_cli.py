"""The `festival` command line, run as a user would: a subprocess with an environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FESTIVAL = str(Path(sys.executable).parent / "festival")


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "FESTIVAL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        **env,
    }
    return subprocess.run(
        [FESTIVAL, *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_create_organiser_prints_a_password_that_signs_in(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    made = run(["create-organiser", "--email", "ada@example.org"], tmp_path)
    assert made.returncode == 0, made.stderr
    password = made.stdout.strip()
    assert len(password) >= 12
    again = run(["create-organiser", "--email", "ada@example.org"], tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [
        "error: An organiser with e-mail ada@example.org already exists"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create-organiser", "--email", "not-an-email"], "is not an e-mail address"),
        (["serve", "--port", "99999"], "--port"),
        (["db", "upgrade", "no-such-revision"], "no-such-revision"),
    ],
)
def test_bad_input_exits_non_zero_with_a_readable_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run(args, tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_a_placeholder_secret(tmp_path: Path) -> None:
    result = run(
        ["db", "upgrade"],
        tmp_path,
        FESTIVAL_ENVIRONMENT="production",
        FESTIVAL_SECRET_KEY="change-me",
    )
    assert result.returncode == 1
    assert "FESTIVAL_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failure's only line on stderr (asserting there is exactly one, and no traceback)."""
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/festival"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "FESTIVAL_DATABASE_URL: 'not a url' is not a database URL"),
        ("mysql://nope", "FESTIVAL_DATABASE_URL: unsupported database 'mysql'"),
        ("postgresql+psycopg2://u@h/db", "use postgresql+asyncpg"),
        ("sqlite://", "names no database file"),
        (UNREACHABLE_POSTGRES, "cannot reach the database"),
    ],
)
def test_a_bad_database_url_is_one_line(tmp_path: Path, url: str, message: str) -> None:
    line = one_line(run(["db", "upgrade"], tmp_path, FESTIVAL_DATABASE_URL=url))
    assert message in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["demo"], ["serve", "--port", "8998"]])
def test_an_unreachable_database_is_one_line(tmp_path: Path, command: list[str]) -> None:
    line = one_line(run(command, tmp_path, FESTIVAL_DATABASE_URL=UNREACHABLE_POSTGRES))
    assert "cannot reach the database" in line


@pytest.mark.parametrize(
    "command",
    [
        ["create-organiser", "--email", "ada@example.org"],
        ["demo"],
        ["serve", "--port", "8997"],
        ["import", "programme.csv", "--festival", "f"],
    ],
)
def test_commands_on_an_empty_folder_ask_for_the_migration_and_create_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    if "programme.csv" in command:
        (tmp_path / "programme.csv").write_text("title\r\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    line = one_line(run(command, tmp_path))
    assert "run `festival db upgrade` first" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no festival.db, no secret


def test_commands_on_an_unmigrated_database_ask_for_the_migration(tmp_path: Path) -> None:
    assert run(["db", "upgrade", "base"], tmp_path).returncode == 0  # the file, no tables
    line = one_line(run(["create-organiser", "--email", "ada@example.org"], tmp_path))
    assert "the database is at migration none" in line
    assert "run `festival db upgrade` first" in line


def test_serve_names_an_unreachable_broker_without_its_password(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    url = "redis://:hunter2@127.0.0.1:1/0"
    line = one_line(run(["serve", "--port", "8996"], tmp_path, FESTIVAL_REDIS_URL=url))
    assert line.startswith("error: cannot reach Redis at redis://:***@127.0.0.1:1/0")
    assert "hunter2" not in line


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FESTIVAL_REDIS_URL": "http://127.0.0.1:6379"}, "FESTIVAL_REDIS_URL: not a Redis URL"),
        ({"FESTIVAL_LOG_LEVEL": "loud"}, "FESTIVAL_LOG_LEVEL: 'loud' is not a log level"),
        ({"FESTIVAL_DB_POOL_SIZE": "0"}, "FESTIVAL_DB_POOL_SIZE"),
    ],
)
def test_bad_settings_are_one_line(tmp_path: Path, env: dict[str, str], message: str) -> None:
    assert message in one_line(run(["db", "upgrade"], tmp_path, **env))


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    line = one_line(run(["import", "nowhere.csv", "--festival", "f"], tmp_path))
    assert "'nowhere.csv': No such file or directory" in line


def test_help_shows_plain_metavars() -> None:
    result = subprocess.run(
        [FESTIVAL, "import", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "Usage: festival import [OPTIONS] FILE" in result.stdout
    assert "--festival TEXT" in result.stdout
    assert "<bool>" not in result.stdout
    assert "FileBinaryRead" not in result.stdout


def test_demo_is_idempotent(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    first = run(["demo"], tmp_path)
    assert first.returncode == 0, first.stderr
    second = run(["demo"], tmp_path)
    assert second.returncode == 0, second.stderr
    assert "organiser@demo.festival" in first.stdout


def test_mail_preview_writes_every_letter_to_look_at(tmp_path: Path) -> None:
    done = run(["mail", "preview", "all", "--out", "letters"], tmp_path)
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / "letters").iterdir())
    assert "confirmed.eml" in written
    assert "confirmed.html" in written
    assert "sign_in.html" in written
    assert len(written) == 2 * len(done.stdout.split())
    unknown = run(["mail", "preview", "nonsense"], tmp_path)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().startswith("error: no letter 'nonsense': one of all, ")
