"""Migrations: they build the schema the models describe, and go down and up again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

import festival.models
import realtime.models
import schedule.models
import tickets.models
from festival.db import Base, make_engine
from festival.migrate import pending, upgrade
from tests.conftest import PG_URL, Backend, Databases

_ = (festival.models, schedule.models, tickets.models, realtime.models)


@pytest.fixture
async def empty_engine(backend: Backend, databases: Databases) -> AsyncIterator[AsyncEngine]:
    """An engine on a brand-new, empty database of the same kind as ``backend``."""
    if backend.name == "sqlite":
        engine = make_engine(f"sqlite+aiosqlite:///{databases.tmp / 'empty.db'}")
        yield engine
        await engine.dispose()
        (databases.tmp / "empty.db").unlink(missing_ok=True)
        return
    assert PG_URL
    name = f"{databases.pg_name}_empty"
    admin = make_engine(
        databases.pg_admin or PG_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0
    )
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(backend.url).set(database=name).render_as_string(False))
    yield engine
    await engine.dispose()
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def test_models_and_migrations_agree(backend: Backend) -> None:
    def _diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with backend.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


async def test_upgrade_downgrade_upgrade_round_trip(empty_engine: AsyncEngine) -> None:
    def _tables(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names()) - {"alembic_version"}

    await upgrade(empty_engine)
    async with empty_engine.connect() as connection:
        assert await connection.run_sync(_tables) == set(Base.metadata.tables)
    await _downgrade(empty_engine, "base")
    async with empty_engine.connect() as connection:
        assert await connection.run_sync(_tables) == set()
    await upgrade(empty_engine)
    current, head = await pending(empty_engine)
    assert current == head


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    from alembic import command

    from festival.migrate import alembic_config

    def _run(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_run)
