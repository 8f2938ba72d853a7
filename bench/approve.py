"""The fixed cost of a moderator's approve, before any socket hears of it.

Everyone in a live session waits for this unit of work before the fan-out
starts: read and lock the question, write its status and revision, write the
audit row, commit. It is the use case itself (`realtime.qa.moderate` in the
edge's `unit_of_work`, with a real context and hub), run ``--units`` times on a
migrated SQLite file, with two drivers alternating in the same process:

- ``one-trip``: `festival.sqlite_driver`, what `festival serve` runs;
- ``stock``: SQLAlchemy's own aiosqlite adapter (a cursor opened, executed,
  fetched and closed in four trips to aiosqlite's thread).

For each: the wall time and the event loop thread's CPU per unit of work
(medians over ``--rounds`` alternating rounds), and the trips to aiosqlite's
thread one unit of work takes (counted in a pass of its own, not timed).
With ``--database-url postgresql+asyncpg://...`` it runs the same use case on
PostgreSQL, once, for reference (the drivers only differ on SQLite).
Run: `.venv/bin/python -m bench.approve [--units 300] [--rounds 5]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import ws_setup


async def _units(engine: AsyncEngine, setup: ws_setup.Setup) -> Callable[[int], Awaitable[None]]:
    """A function that runs ``n`` approves, each its own unit of work, on ``engine``."""
    from festival.auth import resolve_principal
    from festival.db import make_sessionmaker, unit_of_work
    from realtime import access, qa
    from realtime.hub import Hub

    sessions = make_sessionmaker(engine)
    hub = Hub()
    async with unit_of_work(sessions) as session:
        principal = await resolve_principal(session, setup.moderator)
        ctx = await access.enter(session, principal, setup.session_id, hub)
    questions = [uuid.UUID(q) for q in setup.question_ids]

    async def run(n: int) -> None:
        for i in range(n):
            async with unit_of_work(sessions) as session:
                await qa.moderate(session, ctx, questions[i % len(questions)], "approve")

    return run


async def _trips(run: Callable[[int], Awaitable[None]]) -> float:
    """The trips to aiosqlite's thread one approve takes (20 counted, not timed)."""
    made = [0]
    queue = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kw: Any) -> Any:
        made[0] += 1
        return await queue(self, fn, *args, **kw)

    aiosqlite.Connection._execute = counted  # type: ignore[method-assign]
    try:
        await run(20)
    finally:
        aiosqlite.Connection._execute = queue  # type: ignore[method-assign]
    return made[0] / 20


async def _measure(setup: ws_setup.Setup, units: int, rounds: int) -> dict[str, Any]:
    from festival.db import make_engine

    engines = {"one-trip": make_engine(setup.db_url)}
    sqlite = setup.db_url.startswith("sqlite+aiosqlite")
    if sqlite:
        stock = AsyncAdapt_aiosqlite_dbapi(aiosqlite, sqlite3)
        engines["stock"] = make_engine(setup.db_url, module=stock)
    runs = {name: await _units(engine, setup) for name, engine in engines.items()}
    result: dict[str, Any] = {"units": units, "rounds": rounds}
    for name, run in runs.items():
        await run(50)  # warm: pools, statement caches
        result[name] = {"trips_per_unit": await _trips(run) if sqlite else None}
    walls: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            await run(units)
            walls[name].append((time.perf_counter() - wall) / units * 1e6)
            cpus[name].append((time.thread_time() - cpu) / units * 1e6)
    for name in runs:
        result[name] |= {
            "wall_us": round(statistics.median(walls[name])),
            "loop_cpu_us": round(statistics.median(cpus[name])),
            "wall_us_rounds": [round(w) for w in walls[name]],
        }
    for engine in engines.values():
        await engine.dispose()
    if "stock" in result:
        one, stock_ = result["one-trip"], result["stock"]
        result["wall_ratio"] = round(one["wall_us"] / stock_["wall_us"], 2)
        result["cpu_ratio"] = round(one["loop_cpu_us"] / stock_["loop_cpu_us"], 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=300, help="approves per round and driver")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--database-url", default=None, help="PostgreSQL, for reference")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup = ws_setup.prepare(Path(tmp) / "approve.db", args.database_url, 1, 50)
        result = asyncio.run(_measure(setup, args.units, args.rounds))
    print(json.dumps(result))
    for name in ("one-trip", "stock"):
        if name in result:
            r = result[name]
            trips = "" if r["trips_per_unit"] is None else f", {r['trips_per_unit']:g} trips"
            print(
                f"approve, {name}: {r['wall_us']} µs a unit of work "
                f"({r['loop_cpu_us']} µs of the loop's CPU){trips}"
            )
    if "wall_ratio" in result:
        print(f"one-trip / stock: wall {result['wall_ratio']}, loop CPU {result['cpu_ratio']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
