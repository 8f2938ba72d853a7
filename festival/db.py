"""Database engine, sessions, the declarative base and shared column types.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) is production.
For SQLite we follow SQLAlchemy's documented recipe: pysqlite's own transaction
handling is switched off and we emit ``BEGIN`` ourselves, so SAVEPOINTs work.
We emit ``BEGIN IMMEDIATE``: writers queue on SQLite's lock (with a busy
timeout) instead of failing with "database is locked" when two deferred
transactions both try to upgrade to a write. Under aiosqlite, the driver of
:mod:`festival.sqlite_driver` sends each statement in one trip to aiosqlite's
thread, and the ``BEGIN`` with the first of them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Executable, MetaData, String, TypeDecorator, Uuid, event
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.util import greenlet_spawn

from festival import sqlite_driver

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back tz-aware.

    SQLite keeps no offset, so naive values coming back are UTC by construction.
    Naive values going in are refused: a time without a zone is a bug upstream.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, uuid.UUID: Uuid(as_uuid=True)}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def short_string(length: int = 200) -> String:
    return String(length)


def make_engine(url: str, pool_size: int = 20, **kwargs: Any) -> AsyncEngine:
    """An engine for ``url``, with the SQLite recipe applied where it applies.

    PostgreSQL gets a fixed pool of ``pool_size`` connections and no overflow:
    under load, requests queue for a connection instead of opening (and, on
    return, closing) one each, which costs the server a process per request.
    """
    if url.startswith("sqlite"):
        if url.startswith("sqlite+aiosqlite"):
            kwargs.setdefault("module", sqlite_driver.dbapi())
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _apply_sqlite_recipe(engine)
        return engine
    kwargs.setdefault("pool_size", pool_size)
    kwargs.setdefault("max_overflow", 0)
    # No pool_pre_ping: it costs a round trip on every checkout (measured as the
    # largest fixed cost of a check-in); connections are recycled instead, and
    # one that died with the server fails its request, which the client retries.
    kwargs.setdefault("pool_recycle", 1800)
    return create_async_engine(url, **kwargs)


def _apply_sqlite_recipe(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read-only unit of work (READ_ONLY option) takes no write lock: in WAL
        # mode readers then run side by side instead of queueing behind writers.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        statement = "BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE"
        driver = connection.connection.dbapi_connection
        if isinstance(driver, sqlite_driver.OneTripConnection):
            driver.begin_with_next_statement(statement)  # no trip of its own
        else:
            connection.exec_driver_sql(statement)


READ_ONLY = "festival_read_only"


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit (then run effects) on success, roll back on error."""
    from festival import effects

    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await effects.rollback(session)
            raise
        await effects.commit(session)


def autocommit_options(session: AsyncSession) -> dict[str, Any]:
    """Execution options for work made of statements each atomic by itself.

    On PostgreSQL, when the unit of work has not begun, such work runs in
    autocommit: BEGIN and COMMIT, two round trips, buy nothing (READ COMMITTED
    would see no more inside a transaction), and :class:`Prepared` statements
    then run on the driver. Work within a begun unit of work (an
    ``Idempotency-Key`` was claimed, say) keeps its transaction; SQLite keeps
    its BEGIN IMMEDIATE recipe. Empty when autocommit does not apply.
    """
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        return {"isolation_level": "AUTOCOMMIT"}
    return {}


async def autocommit(session: AsyncSession) -> bool:
    """Let each statement of this unit of work commit as it runs, where
    :func:`autocommit_options` says that applies; whether it does.

    The exception to "one unit of work, one transaction", so only the edge that
    owns the unit of work calls it, and only for a use case made of statements
    each atomic by itself, none of which a later failure would need undone (the
    door's scan: a read, then one insert that a unique index arbitrates). A
    use case never chooses its own mode: it runs in whichever it is given.
    """
    options = autocommit_options(session)
    if options:
        await session.connection(execution_options=options)
    return bool(options)


@dataclass(frozen=True, slots=True)
class Driver:
    """A pooled connection's own driver connection (asyncpg), with no transaction
    open: each statement commits as it runs. Only :class:`Prepared` statements
    run on it; SQLAlchemy has no part in them beyond lending the connection."""

    connection: Any


@asynccontextmanager
async def autocommit_connection(engine: AsyncEngine) -> AsyncIterator[Driver | None]:
    """A connection of the pool on which each statement commits as it runs, for
    work done without a session at all; None where that does not apply (SQLite
    keeps its BEGIN IMMEDIATE recipe).

    The same mode as :func:`autocommit`, without the session around it: no
    session transaction, no unit of work, so nothing deferred to a commit
    (``festival.effects``) may be asked of such work. The door's common scan
    runs here (``tickets.checkin.DoorLine``): what a session costs was
    about a quarter of a scan's CPU, and SQLAlchemy's ``Connection`` around the
    driver a good part of the rest (bench/RESULTS.md). The driver connection
    comes straight from the engine's pool (``raw_connection``), outside any
    transaction (the pool rolls back what a connection held when it came back),
    and goes back to it the same way. Given back before the caller opens a
    unit of work, so one request never holds two connections of a pool that
    has no overflow.
    """
    if engine.dialect.name != "postgresql":
        yield None
        return
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        pooled = await engine.raw_connection()
    except dbapi_error as error:
        # Raised as engine.connect() raises it (a DBAPIError, invalidated if the
        # server is gone), so that the edge tells a lost database (a 503) as for
        # any other unit of work: raw_connection() hands on the driver's own.
        lost = engine.dialect.is_disconnect(error, None, None)
        raise DBAPIError.instance(
            None, None, error, dbapi_error, connection_invalidated=lost, dialect=engine.dialect
        ) from error
    try:
        yield Driver(pooled.driver_connection)
    finally:
        # Back to the pool, whose reset may have to await the driver (closing a
        # connection that broke, say): in a greenlet, as SQLAlchemy's own close.
        await greenlet_spawn(pooled.close)


T = TypeVar("T")


async def at_once_else_in_transaction(
    session: AsyncSession,
    at_once: Callable[[], Awaitable[T | None]],
    in_transaction: Callable[[], Awaitable[T]],
) -> T:
    """``at_once`` in autocommit (see :func:`autocommit`); when that does not
    apply, or ``at_once`` returns None, ``in_transaction`` in a transaction.

    The one place a unit of work changes mode half-way, called by the edge (a
    registration: one statement in the common case, a transaction otherwise).
    ``at_once`` must have written nothing when it returns None: its autocommit
    connection is then given back, which undoes nothing, and ``in_transaction``
    begins a transaction of its own on the next statement.
    """
    if await autocommit(session):
        done = await at_once()
        if done is not None:
            return done
        await session.rollback()
    return await in_transaction()


class Prepared:
    """A hot statement that, in autocommit on PostgreSQL, runs straight on asyncpg.

    The statement is compiled once for asyncpg and, when the connection is in
    autocommit (no transaction of SQLAlchemy's to join), run on the
    connection's own driver, its parameters converted by the column types'
    bind processors: no SQLAlchemy execution context, cursor adapter or result
    object is made for it (what that saves a door scan is in bench/RESULTS.md).
    The row comes back as an asyncpg ``Record``, read by position like a
    SQLAlchemy row; JSON arrives decoded (the dialect sets the driver's codec)
    and timestamps tz-aware. A constraint the row breaks raises SQLAlchemy's
    ``IntegrityError``, as on the usual path. In a transaction, or on SQLite,
    the statement runs through SQLAlchemy as usual.

    ``statements`` maps a dialect name to its statement (one for all if a single
    statement); ``column_keys`` names the values an INSERT is given.
    """

    def __init__(
        self,
        statements: Executable | Mapping[str, Executable],
        column_keys: Sequence[str] | None = None,
    ) -> None:
        if isinstance(statements, Executable):
            statements = {"postgresql": statements, "sqlite": statements}
        self._statements = dict(statements)
        dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
        compiled = self._statements["postgresql"].compile(  # type: ignore[attr-defined]
            dialect=dialect, column_keys=list(column_keys) if column_keys else None
        )
        self._sql = str(compiled)
        self._binds: tuple[tuple[str, Callable[[Any], Any] | None], ...] = tuple(
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup
        )
        # Values written into the statement (a literal compared with, a LIMIT).
        self._fixed = {name: b.value for name, b in compiled.binds.items() if not b.required}

    async def first(self, connection: AsyncConnection | Driver, params: Mapping[str, Any]) -> Any:
        """The first row (by position), or None."""
        return await self._run(connection, params, many=False)

    async def all(self, connection: AsyncConnection | Driver, params: Mapping[str, Any]) -> Any:
        """Every row (by position), as a list."""
        return await self._run(connection, params, many=True)

    async def _run(
        self, connection: AsyncConnection | Driver, params: Mapping[str, Any], *, many: bool
    ) -> Any:
        if isinstance(connection, Driver):
            driver = connection.connection
        else:
            options = connection.sync_connection.get_execution_options()  # type: ignore[union-attr]
            autocommit = options.get("isolation_level") == "AUTOCOMMIT"
            if connection.dialect.name != "postgresql" or not autocommit:
                statement = self._statements[connection.dialect.name]
                result = await connection.execute(statement, dict(params))
                return list(result) if many else result.first()
            sync = connection.sync_connection
            assert sync is not None
            # The pooled connection it holds, read without a greenlet of its own
            # (get_raw_connection spawns one); an invalidated one reconnects that way.
            if sync.invalidated:
                pooled = await connection.get_raw_connection()
            else:
                pooled = sync.connection
            driver = pooled.driver_connection
        values = self._fixed | dict(params)
        args = [
            values[name] if process is None else process(values[name])
            for name, process in self._binds
        ]
        try:
            if many:
                return await driver.fetch(self._sql, *args)
            return await driver.fetchrow(self._sql, *args)
        except Exception as error:
            from asyncpg.exceptions import (  # type: ignore[import-untyped]
                IntegrityConstraintViolationError,
            )

            if isinstance(error, IntegrityConstraintViolationError):
                # As SQLAlchemy raises it, so that callers and the API's handler
                # (a conflict, not a server fault) see one kind of error on both paths.
                raise IntegrityError(self._sql, args, error) from error
            raise
