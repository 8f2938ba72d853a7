"""One locked set of packages: what the tests run on is what uv.lock says, and every
way of installing Festival (make run, make test, CI, the Docker image) installs from it."""

from __future__ import annotations

import re
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def locked() -> dict[str, set[str]]:
    """Package name -> its versions in uv.lock (the project itself left out).

    A universal lock may hold two versions of one package, each for the Pythons
    its markers name (numpy for 3.11 and for 3.12+, say).
    """
    lock: dict[str, Any] = tomllib.loads((ROOT / "uv.lock").read_text())
    versions: dict[str, set[str]] = {}
    for package in lock["package"]:
        if "version" in package and package["name"] != "festival":
            versions.setdefault(canonicalize_name(package["name"]), set()).add(package["version"])
    return versions


def uv_version() -> str:
    [version] = re.findall(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    return version


def test_every_locked_package_in_this_environment_is_the_locked_version() -> None:
    versions = locked()
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version for dist in metadata.distributions()
    }
    for name in ("fastapi", "starlette", "uvicorn", "sqlalchemy", "pydantic", "websockets"):
        assert name in versions, f"{name} is not in uv.lock"
    drift = {
        name: (installed[name], version)
        for name, version in versions.items()
        if name in installed and installed[name] not in version
    }
    assert not drift, f"installed != uv.lock (run make test, which syncs the venv): {drift}"


def test_the_lock_has_hashes_for_every_download() -> None:
    lock: dict[str, Any] = tomllib.loads((ROOT / "uv.lock").read_text())
    for package in lock["package"]:
        for file in [package.get("sdist"), *package.get("wheels", [])]:
            if file and "url" in file:
                assert file.get("hash", "").startswith("sha256:"), package["name"]


def test_make_ci_and_the_image_install_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    stamp = makefile.split("$(STAMP): ", 1)[1].split("\n\n", 1)[0]
    assert "uv.lock" in stamp.splitlines()[0]
    assert "$(UV) sync --locked" in stamp
    for target in ("run", "test"):
        [deps] = re.findall(rf"^{target}: (.*)$", makefile, re.M)
        assert "$(STAMP)" in deps.split(), target
    assert "pip install" not in stamp
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "pip install" not in ci
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY pyproject.toml uv.lock" in dockerfile
    assert "uv sync --locked" in dockerfile
    assert f"pip install uv=={uv_version()}" in dockerfile


def test_make_run_serves_on_the_port_it_is_given() -> None:
    planned = subprocess.run(
        ["make", "-n", "run", "PORT=8080", "HOST=0.0.0.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert ".venv/bin/festival serve --host 0.0.0.0 --port 8080" in planned
