"""The SQLite driver: one trip to aiosqlite's thread per statement, the same answers.

What the rest of the suite relies on without saying (rows, counts, errors,
transactions) is checked here directly, against a real SQLite file, together
with what the driver is for: how many trips a unit of work costs.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from festival.db import READ_ONLY, make_engine, make_sessionmaker, unit_of_work
from festival.sqlite_driver import OneTripConnection


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
    yield engine
    await engine.dispose()


async def _values(engine: AsyncEngine) -> list[str]:
    """What table ``t`` holds, in the order it was written, as another connection reads it."""
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT v FROM t ORDER BY id"))).scalars())


def _write_lock_taken(path: Path) -> bool:
    """Whether another connection finds the database's write lock held (within 50 ms)."""
    other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if "locked" not in str(error):
            raise
        return True
    finally:
        other.close()
    return False


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls queued for aiosqlite's thread from now on, by name."""
    made: list[str] = []
    queue = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(getattr(fn, "__name__", repr(fn)))
        return await queue(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return made


async def test_the_engine_runs_on_the_one_trip_driver(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.dbapi_connection, OneTripConnection)


async def test_rows_counts_and_ids_come_back_as_sqlite_gives_them(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
        assert inserted.lastrowid == 1
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}])
        updated = await conn.execute(text("UPDATE t SET v = v || '!' WHERE id > 1"))
        assert updated.rowcount == 2
        rows = (await conn.execute(text("SELECT id, v FROM t ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b!"), (3, "c!")]
        empty = await conn.execute(text("SELECT id, v FROM t WHERE id < 0"))
        assert list(empty.keys()) == ["id", "v"]
        assert empty.all() == []
        returned = await conn.execute(text("UPDATE t SET v = 'z' WHERE id = 1 RETURNING id, v"))
        assert [tuple(r) for r in returned] == [(1, "z")]


async def test_a_statement_and_the_commit_are_a_trip_each(
    engine: AsyncEngine, trips: list[str]
) -> None:
    sessions = make_sessionmaker(engine)
    async with unit_of_work(sessions) as session:  # warm: the pool opens its connection
        await session.execute(text("SELECT 1"))
    trips.clear()
    async with unit_of_work(sessions) as session:
        await session.execute(text("SELECT v FROM t"))
        await session.execute(text("INSERT INTO t (v) VALUES ('a')"))
        await session.execute(text("UPDATE t SET v = 'b'"))
    # BEGIN rode with the SELECT; the pool's reset after the commit had nothing to end.
    assert trips == ["_run", "_run", "_run", "_finish"]


async def test_a_unit_of_work_without_statements_costs_no_trip(
    engine: AsyncEngine, trips: list[str]
) -> None:
    sessions = make_sessionmaker(engine)
    async with unit_of_work(sessions) as session:
        await session.execute(text("SELECT 1"))
    trips.clear()
    async with unit_of_work(sessions) as session:
        await session.connection()  # begun, but nothing was asked
    assert trips == []


async def test_the_write_lock_is_held_from_the_first_statement(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """BEGIN IMMEDIATE goes with the first statement, even a read: writers queue there."""
    sessions = make_sessionmaker(engine)
    async with unit_of_work(sessions) as session:
        await session.execute(text("SELECT count(*) FROM t"))
        assert _write_lock_taken(tmp_path / "driver.db")


async def test_a_streamed_first_statement_begins_the_transaction_too(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """A stream keeps SQLAlchemy's own cursor; the deferred BEGIN must not slip past it."""
    async with engine.connect() as conn, conn.begin():
        result = await conn.stream(text("SELECT v FROM t"))
        assert [row async for row in result] == []
        assert _write_lock_taken(tmp_path / "driver.db")


async def test_a_read_only_unit_of_work_takes_no_write_lock(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    async with engine.connect() as conn:
        conn = await conn.execution_options(**{READ_ONLY: True})
        async with conn.begin():
            await conn.execute(text("SELECT count(*) FROM t"))
            assert not _write_lock_taken(tmp_path / "driver.db")


async def test_a_failed_first_statement_rolls_back_and_leaves_the_connection_usable(
    engine: AsyncEngine,
) -> None:
    sessions = make_sessionmaker(engine)
    async with unit_of_work(sessions) as session:
        await session.execute(text("INSERT INTO t (v) VALUES ('taken')"))
    for _ in range(3):  # the same pooled connection each time
        with pytest.raises(IntegrityError):
            async with unit_of_work(sessions) as session:
                await session.execute(text("INSERT INTO t (v) VALUES ('taken')"))
        with pytest.raises(OperationalError):
            async with unit_of_work(sessions) as session:
                await session.execute(text("SELECT nope FROM t"))
    async with unit_of_work(sessions) as session:
        await session.execute(text("INSERT INTO t (v) VALUES ('next')"))
    assert await _values(engine) == ["taken", "next"]


async def test_an_error_after_writes_undoes_them(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)

    async def fails_after_writing() -> None:
        async with unit_of_work(sessions) as session:
            await session.execute(text("INSERT INTO t (v) VALUES ('a')"))
            await session.execute(text("INSERT INTO t (v) VALUES ('b')"))
            raise RuntimeError("the use case failed after writing")

    with pytest.raises(RuntimeError):
        await fails_after_writing()
    assert await _values(engine) == []


async def test_savepoints_keep_what_came_before_them(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with unit_of_work(sessions) as session:
        await session.execute(text("INSERT INTO t (v) VALUES ('kept')"))
        with pytest.raises(IntegrityError):
            async with session.begin_nested():
                await session.execute(text("INSERT INTO t (v) VALUES ('kept')"))
        await session.execute(text("INSERT INTO t (v) VALUES ('after')"))
    assert await _values(engine) == ["kept", "after"]


async def test_concurrent_writers_queue_and_all_land(engine: AsyncEngine) -> None:
    """Many units of work at once, on several pooled connections: each lands once."""
    sessions = make_sessionmaker(engine)

    async def write(i: int) -> None:
        async with unit_of_work(sessions) as session:
            count = (await session.execute(text("SELECT count(*) FROM t"))).scalar()
            await session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": f"{i}-{count}"})

    await asyncio.gather(*(write(i) for i in range(40)))
    got = await _values(engine)
    # BEGIN IMMEDIATE serialises them: each saw every write before it, none twice.
    assert sorted(int(v.split("-")[1]) for v in got) == list(range(40))


async def test_a_streamed_result_still_reads_in_steps(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        rows = [{"v": str(i)} for i in range(300)]
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), rows)
    async with engine.connect() as conn:
        result = await conn.stream(text("SELECT v FROM t ORDER BY id"))
        got = [row.v async for row in result]
    assert got == [str(i) for i in range(300)]
