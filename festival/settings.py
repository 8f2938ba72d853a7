"""Settings, read from the environment with the ``FESTIVAL_`` prefix."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev", "development"})
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./festival.db"
SECRET_FILE = Path(".festival-secret")


class Settings(BaseSettings):
    """Everything the process is told from outside.

    ``secret_key`` signs nothing by itself (tickets carry per-festival Ed25519 keys);
    it seeds idempotency and cursor tokens. For the embedded default it is generated
    once and kept in ``.festival-secret``; elsewhere a placeholder is refused.
    """

    model_config = SettingsConfigDict(env_prefix="FESTIVAL_", env_file=None, extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL connections per process. Requests beyond it wait for one (FIFO)
    # rather than open more: a pool that overflows opens and closes a connection
    # (a server process) per request under load.
    db_pool_size: int = Field(default=20, ge=1, le=500)
    redis_url: str | None = None
    redis_prefix: str = "festival"  # namespaces live-session streams in a shared Redis
    smtp_url: str | None = None
    mail_from: str = "Festival <noreply@festival.invalid>"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    log_level: str = "INFO"
    pre_moderation: bool = True

    @model_validator(mode="after")
    def _secret(self) -> Settings:
        if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
            if self.environment == "production":
                raise ValueError("FESTIVAL_SECRET_KEY must be set to a real secret in production")
            self.secret_key = _stored_secret() if self.is_embedded else secrets.token_urlsafe(32)
        return self

    @property
    def is_embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _stored_secret() -> str:
    if SECRET_FILE.exists():
        return SECRET_FILE.read_text().strip()
    value = secrets.token_urlsafe(32)
    SECRET_FILE.write_text(value + "\n")
    SECRET_FILE.chmod(0o600)
    return value
