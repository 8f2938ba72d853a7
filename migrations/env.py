"""Alembic environment, async, for SQLite and PostgreSQL alike.

When a caller hands in a connection (``config.attributes["connection"]``), as
``festival.migrate`` does, migrations run on it; otherwise on a new engine
made from ``sqlalchemy.url``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

import festival.models
import realtime.models
import schedule.models
import tickets.models
from festival.db import Base, make_engine

_ = (festival.models, schedule.models, tickets.models, realtime.models)
config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.begin() as connection:
        await connection.run_sync(_configure)
    await engine.dispose()


def _run() -> None:
    connection: Any = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    elif context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata
        )
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(_run_online())


_run()
