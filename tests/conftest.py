"""Fixtures: real SQLite always, real PostgreSQL and Redis when their URLs are set.

The schema is built by running the Alembic migrations once per backend and
test run. PostgreSQL gets a private database per run (so parallel runs on one
server do not collide), dropped at the end.

Two ways to touch the database:
- ``db``: a session inside a transaction that is rolled back after the test,
  for service-level tests;
- ``client`` / ``live_server``: the real app committing for real (needed by
  concurrency tests with many connections); every table is emptied after the test.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.app import create_app
from festival.db import Base, make_engine
from festival.migrate import upgrade
from festival.settings import Settings

PG_URL = os.environ.get("FESTIVAL_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("FESTIVAL_TEST_REDIS_URL")
# What Prometheus would send to /metrics in tests (FESTIVAL_METRICS_TOKEN).
METRICS_TOKEN = "test-metrics-token-not-for-production"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not PG_URL, reason="FESTIVAL_TEST_DATABASE_URL is not set"),
        ],
    ),
]
# For a test about PostgreSQL alone (row locks, deadlocks): skipped only when its URL is unset.
POSTGRES_ONLY = pytest.mark.parametrize("backend", BACKENDS[1:], indirect=True)
# For a test whose subject does not touch the database's behaviour (Argon2's cost,
# the event loop), which would only take its seconds twice.
SQLITE_ONLY = pytest.mark.parametrize("backend", BACKENDS[:1], indirect=True)


@dataclass
class Backend:
    name: str
    url: str
    engine: AsyncEngine


@dataclass
class Databases:
    tmp: Path
    made: dict[str, Backend] = field(default_factory=dict)
    pg_admin: str | None = None
    pg_name: str | None = None


async def _make_pg_database() -> tuple[str, str, str]:
    assert PG_URL
    name = f"festival_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin_url = make_url(PG_URL).render_as_string(hide_password=False)
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    return admin_url, name, url


@pytest.fixture(scope="session")
async def databases(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Databases]:
    dbs = Databases(tmp=tmp_path_factory.mktemp("db"))
    yield dbs
    for backend in dbs.made.values():
        await backend.engine.dispose()
    if dbs.pg_admin and dbs.pg_name:
        admin = make_engine(dbs.pg_admin, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{dbs.pg_name}" WITH (FORCE)'))
        await admin.dispose()


async def made_backend(name: str, databases: Databases) -> Backend:
    """The run's database ``name`` ("sqlite" or "postgresql"), made and migrated on first use."""
    if name not in databases.made:
        if name == "sqlite":
            url = f"sqlite+aiosqlite:///{databases.tmp / 'festival.db'}"
        else:
            databases.pg_admin, databases.pg_name, url = await _make_pg_database()
        engine = make_engine(url)
        await upgrade(engine)
        databases.made[name] = Backend(name, url, engine)
    return databases.made[name]


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, databases: Databases) -> AsyncIterator[Backend]:
    made = await made_backend(request.param, databases)
    yield made
    await _empty_tables(made.engine)


async def _empty_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())


@pytest.fixture
async def db(backend: Backend) -> AsyncIterator[AsyncSession]:
    """A session whose work is rolled back after the test."""
    async with backend.engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture
def settings(backend: Backend) -> Settings:
    """The app's settings in tests. The abuse limits are off: tests sign in and
    register dozens of times from one address, which is what the limits refuse;
    ``tests/security`` turns them on to test them (production's default is on)."""
    return Settings(
        environment="test",
        database_url=backend.url,
        secret_key="test-secret-key-not-for-production",
        base_url="http://testserver",
        redis_url=None,
        rate_limits=False,
        metrics_token=METRICS_TOKEN,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    ws_url: str
    app: FastAPI


@asynccontextmanager
async def uvicorn_in_loop(app: Any, **options: Any) -> AsyncIterator[int]:
    """``app`` served by a real uvicorn on a free loopback port, in this event loop; the port.

    With the websocket protocol ``festival serve`` runs, unless ``options`` say otherwise.
    """
    port = free_port()
    options.setdefault("ws", "api.live.uvicorn_protocol:LiveWebSocketProtocol")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@pytest.fixture
async def live_server(settings: Settings) -> AsyncIterator[LiveServer]:
    """The app served by a real uvicorn on a free loopback port, in this event loop."""
    application = create_app(settings)
    # The server shares the test's event loop: while 200 requests keep it busy, uvicorn's
    # 5 s keep-alive timer can close a pooled connection just as the client reuses it
    # ("Server disconnected without sending a response"), a race of the harness.
    options = {"ws_max_size": 65536, "timeout_keep_alive": 60}
    async with uvicorn_in_loop(application, **options) as port:
        yield LiveServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", application)


@dataclass
class QueryCounter:
    count: int = 0
    statements: list[str] = field(default_factory=list)


@contextmanager
def count_queries(engine: AsyncEngine) -> Iterator[QueryCounter]:
    """Count the statements sent through ``engine`` (BEGIN/COMMIT excluded)."""
    counter = QueryCounter()

    def _on_execute(*args: Any) -> None:
        statement = str(args[2]).strip()
        if statement.upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            return
        counter.count += 1
        counter.statements.append(statement)

    sync_engine = engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", _on_execute)
    try:
        yield counter
    finally:
        event.remove(sync_engine, "before_cursor_execute", _on_execute)


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip("FESTIVAL_TEST_REDIS_URL is not set")
    return REDIS_URL
