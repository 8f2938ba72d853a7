"""The process secret: long enough, and its file never readable by others."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from festival.settings import MIN_SECRET_LENGTH, Settings


def test_a_short_secret_is_refused_with_the_way_to_make_one() -> None:
    with pytest.raises(ValueError, match=f"use at least {MIN_SECRET_LENGTH}") as refused:
        Settings(secret_key="short-but-not-a-placeholder")
    assert "secrets.token_urlsafe" in str(refused.value)
    assert len(Settings(secret_key="x" * MIN_SECRET_LENGTH).secret_key) == MIN_SECRET_LENGTH


def test_the_secret_file_is_never_readable_by_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made 0600 from its first byte: even a process stopped right after writing it
    (here: no chmod can run, whatever the umask) leaves no readable secret."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FESTIVAL_SECRET_KEY", raising=False)

    def no_chmod(self: Path, mode: int, **_: object) -> None:
        raise AssertionError("the secret file was made with looser rights and then chmod-ed")

    monkeypatch.setattr(Path, "chmod", no_chmod)
    old = os.umask(0)
    try:
        secret = Settings().secret_key
    finally:
        os.umask(old)
    made = tmp_path / ".festival-secret"
    assert made.stat().st_mode & 0o777 == 0o600
    assert made.read_text().strip() == secret
    assert Settings().secret_key == secret  # read back, not made again
