"""Run and check Alembic migrations from code (the CLI, the app and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str = "") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def _upgrade(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def pending(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """(current revision, head revision) of the database behind ``engine``."""

    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        current = await connection.run_sync(_current)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return current, head


class DatabaseNotReady(Exception):
    """The database cannot serve this code yet; the message says what to run."""


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other databases and in-memory ones)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


async def require_current(engine: AsyncEngine) -> None:
    """Raise :class:`DatabaseNotReady` unless the database is at the code's head revision."""
    current, head = await pending(engine)
    if current != head:
        raise DatabaseNotReady(
            f"the database is at migration {current or 'none'}, the code needs {head}: "
            "run `festival db upgrade` first"
        )
