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


def test_serve_refuses_an_unmigrated_database_with_a_clear_message(tmp_path: Path) -> None:
    result = run(["serve", "--port", "8999"], tmp_path)
    assert result.returncode != 0
    assert "festival db upgrade" in result.stderr


def test_demo_is_idempotent(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    first = run(["demo"], tmp_path)
    assert first.returncode == 0, first.stderr
    second = run(["demo"], tmp_path)
    assert second.returncode == 0, second.stderr
    assert "organiser@demo.festival" in first.stdout
