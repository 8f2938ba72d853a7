"""Settings, read from the environment with the ``FESTIVAL_`` prefix."""

from __future__ import annotations

import os
import re
import secrets
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_SECRET_LENGTH = 32
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev", "development"})
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./festival.db"
SECRET_FILE = Path(".festival-secret")


# The async drivers Festival runs on, and what a URL without one means.
DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
DIALECT_ALIASES = {"postgres": "postgresql"}
REDIS_SCHEMES = ("redis", "rediss", "unix")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")


def check_database_url(url: str) -> str:
    """``url`` with its async driver, or ValueError with a sentence a person can act on.

    ``sqlite:///festival.db`` and ``postgresql://…`` get the driver Festival runs
    on; any other dialect or driver is refused here, before anything connects.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = "sqlite+aiosqlite:///./festival.db or postgresql+asyncpg://user:pass@host/db"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"{url!r} is not a database URL (expected {example})") from None
    dialect, _, driver = parsed.drivername.partition("+")
    dialect = DIALECT_ALIASES.get(dialect, dialect)
    if dialect not in DRIVERS:
        raise ValueError(
            f"unsupported database {parsed.drivername!r}: Festival runs on SQLite and "
            f"PostgreSQL (expected {example})"
        )
    if driver not in ("", DRIVERS[dialect]):
        raise ValueError(
            f"unsupported driver {parsed.drivername!r}: use {dialect}+{DRIVERS[dialect]}"
        )
    if dialect == "sqlite" and not parsed.database:
        raise ValueError(f"{url!r} names no database file (expected {example})")
    normal = parsed.set(drivername=f"{dialect}+{DRIVERS[dialect]}")
    return normal.render_as_string(hide_password=False)


class DatabaseSettings(BaseSettings):
    """Where the database is: all a command needs to know before it touches anything."""

    model_config = SettingsConfigDict(env_prefix="FESTIVAL_", env_file=None, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return check_database_url(value)

    @property
    def is_embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class Settings(DatabaseSettings):
    """Everything the process is told from outside.

    ``secret_key`` signs nothing by itself (tickets carry per-festival Ed25519 keys);
    it seeds idempotency and cursor tokens. For the embedded default it is generated
    once and kept in ``.festival-secret``; elsewhere a placeholder is refused.
    """

    environment: Literal["development", "production", "test"] = "development"
    # PostgreSQL connections per process. Requests beyond it wait for one (FIFO)
    # rather than open more: a pool that overflows opens and closes a connection
    # (a server process) per request under load.
    db_pool_size: int = Field(default=20, ge=1, le=500)
    # What one request or one process may take: a request body's bytes (413 beyond;
    # the programme import takes 20 MiB, or this when larger), and connections per
    # process (`festival serve` gives it to uvicorn, which answers 503 beyond).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_connections: int = Field(default=4096, ge=16)
    # Seconds a connection has to send a request's headers (api.http.header_timeout).
    header_timeout: float = Field(default=10.0, gt=0, le=300)
    # Origins that may show the projector page (/present/...) in a frame, comma- or
    # space-separated (https://stage.example.org); no page may be framed by default.
    frame_ancestors: str = ""
    # The bearer token Prometheus sends to GET /metrics; without one /metrics is off.
    metrics_token: str | None = None
    redis_url: str | None = None
    redis_prefix: str = "festival"  # namespaces live-session streams in a shared Redis
    smtp_url: str | None = None
    mail_from: str = "Festival <noreply@festival.invalid>"
    # Without SMTP, letters are written here as .eml files (make run: ./mail).
    mail_dir: Path | None = None
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    log_level: str = "INFO"
    pre_moderation: bool = True
    # Live sockets one token may hold open at once (per process); the next is refused (429).
    live_sockets_per_token: int = Field(default=5, ge=1)
    # Live-session joins one token may make a minute across every node (with Redis).
    live_joins_per_minute: int = Field(default=60, ge=1)
    # The abuse limits of festival.limits (sign-in, registration): `off` for load
    # tests and benchmarks only. The live sessions' own allowances stay either way.
    rate_limits: bool = True
    # Proxies whose X-Forwarded-For is believed (addresses or CIDRs, comma-separated);
    # from anyone else the socket's peer is the client.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and value.partition("://")[0] not in REDIS_SCHEMES:
            raise ValueError(
                "not a Redis URL (expected redis://host:6379/0, rediss://… or unix://…)"
            )
        return value or None

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _trusted_proxies(cls, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value or ())
        networks = []
        for item in (str(i).strip() for i in items):
            if not item:
                continue
            try:
                networks.append(str(ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an address or a network (e.g. 10.0.0.5 or 10.0.0.0/8)"
                ) from None
        return tuple(networks)

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level (one of {', '.join(LOG_LEVELS)})")
        return level

    @field_validator("frame_ancestors")
    @classmethod
    def _frame_ancestors(cls, value: str) -> str:
        """The origins as a CSP source list (space-separated), each one checked."""
        origins = []
        for item in value.replace(",", " ").split():
            origin = item.rstrip("/")
            if origin.lower() in ("self", "'self'"):
                origin = "'self'"
            elif not ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{item!r} is not an origin (e.g. https://stage.example.org or "
                    "https://*.example.org:8443, no path)"
                )
            origins.append(origin)
        return " ".join(origins)

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: str | None) -> str | None:
        if not value:
            return None
        if value.strip().lower() in PLACEHOLDER_SECRETS or len(value) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"use at least {MIN_SECRET_LENGTH} random characters: python3 -c "
                "'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @model_validator(mode="after")
    def _secret(self) -> Settings:
        if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
            if self.environment == "production":
                raise ValueError("FESTIVAL_SECRET_KEY must be set to a real secret in production")
            self.secret_key = _stored_secret() if self.is_embedded else secrets.token_urlsafe(32)
        elif len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"FESTIVAL_SECRET_KEY is {len(self.secret_key)} characters; use at least "
                f"{MIN_SECRET_LENGTH}: python3 -c "
                "'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return self


def _stored_secret() -> str:
    """The embedded deployment's secret, made once: the file is created 0600 (never
    readable by others, not even for a moment) and exclusively, so two processes
    starting at once both end up with the one that was written."""
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return SECRET_FILE.read_text().strip()
    with os.fdopen(fd, "w") as file:
        file.write(value + "\n")
    return value
