"""Door and registration beside pretix (issue 18): one run, the two alternating.

pretix (the version ``bench/peers/pretix/install.sh`` pins, in its own venv) is
set up as its install docs say: PostgreSQL (a scratch database of its own,
created and dropped here), Redis for cache, sessions and celery (db numbers
10 to 12 by default; the tests use 0), ``gunicorn pretix.wsgi`` with 2 workers
and a celery worker. ``bench/peers/pretix/seed.py`` seeds it in its venv with
what ``bench.checkin`` and ``bench.registration`` seed Festival with: a live
event for the door and one for registration, each with a free admission
product, 1,000,000 places and a check-in list, paid orders of one ticket
each at the door's, and an API token.

Festival is served as in those two benches (``festival serve --workers 2``; the
registration server with the abuse limits off), and the same wrk (2 threads,
32 connections, a Lua script, a different ticket or e-mail on every request)
drives both over HTTP on 127.0.0.1:

- door: Festival's ``POST /api/v1/festivals/{slug}/checkins`` against pretix's
  ``POST /api/v1/organizers/{o}/checkinrpc/redeem/`` (what pretixSCAN calls);
- registration: Festival's ``POST /api/v1/festivals/{slug}/registrations``
  against pretix's ``POST /api/v1/organizers/{o}/events/{e}/orders/`` (a free
  order of one admission: paid at once, a ticket secret issued, no e-mail).

Per pair: Festival, then pretix, then the bare ASGI endpoint of
``bench.checkin`` (the floor of the door target), for ``--pairs`` door pairs
and then as many registration pairs. Each run gets tickets no run before it
used; pretix's celery queue is let empty before the next run. Every run's
successes are counted in its own database too. The last lines are the
verdicts on the issue's targets, every pair having to meet each.

    .venv/bin/python -m bench.peers [--pg-url URL] [--redis-url URL] [--duration 15]
        [--connections 32] [--pairs 2] [--lock /tmp/festival-bench.lock]

``make bench-peers`` installs pretix first (``bench/peers/pretix/install.sh``).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.checkin import (
    PG_ADMIN,
    SCAN_LUA,
    STRIDE_LUA,
    THREADS_LUA,
    Served,
    WrkResult,
    _admin,
    baseline,
    cpu_seconds,
    festival_server,
    free_port,
    measured,
    run_wrk,
    scratch_database,
    seed_festival,
    seed_tickets,
    serving,
    verdict,
)
from bench.registration import REGISTER_LUA

PRETIX_DIR = Path(__file__).resolve().parent / "pretix"
PRETIX_BIN = PRETIX_DIR / ".venv" / "bin"
REDIS = "redis://127.0.0.1:6379"

# pretix's check-in, shaped as bench.checkin's SCAN_LUA: each thread walks its own
# stride of the secrets file, so no two requests carry the same ticket.
REDEEM_LUA = (
    """
local payloads, counter, step = {}, 0, 1
local auth = "Token " .. os.getenv("BENCH_TOKEN")
local list = os.getenv("BENCH_LIST")"""
    + STRIDE_LUA
    + """function request()
  counter = counter + step
  local secret = payloads[(counter % #payloads) + 1]
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
    ["Authorization"] = auth}, '{"secret":"' .. secret .. '","lists":[' .. list ..
    '],"type":"entry"}')
end
"""
)

# pretix's order creation, shaped as bench.registration's REGISTER_LUA: a new
# e-mail address and name on every request, one admission each.
ORDER_LUA = (
    """
local counter = 0
local run = os.getenv("BENCH_RUN")
local item = os.getenv("BENCH_ITEM")
local auth = "Token " .. os.getenv("BENCH_TOKEN")"""
    + THREADS_LUA
    + """function request()
  counter = counter + 1
  local body = '{"email":"g' .. run .. '-' .. id .. '-' .. counter ..
    '@bench.example.org","locale":"en","positions":[{"item":' .. item ..
    ',"attendee_name":"Guest ' .. id .. '-' .. counter .. '"}]}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
    ["Authorization"] = auth}, body)
end
"""
)

PRETIX_CFG = """\
[pretix]
instance_name=bench
url={url}
currency=EUR
datadir={datadir}
loglevel=ERROR

[django]
secret=bench-secret-key-not-for-production-{secret}
debug=off

[database]
backend=postgresql
name={database}
user={user}
password={password}
host={host}
port={port}

[mail]
; nothing is mailed: the orders API sends no e-mail unless asked (send_email)
from=bench@pretix.invalid
host=127.0.0.1
port=25

[redis]
location={redis}/{db_cache}
sessions=true

[celery]
backend={redis}/{db_results}
broker={redis}/{db_broker}
"""


@dataclass
class PretixServed(Served):
    """gunicorn (``pid``) and the celery worker: pretix's CPU is both trees'."""

    celery_pid: int = 0

    def cpu(self) -> float:
        return cpu_seconds(self.pid) + cpu_seconds(self.celery_pid)


@dataclass
class Lane:
    """One side of a comparison: where wrk sends what, and how its database counts successes."""

    side: str  # festival, pretix
    served: Served
    target: str
    lua: str
    db: str
    sql: str


@dataclass
class Run:
    kind: str  # door, registration
    side: str  # festival, pretix, bare
    pair: int
    at: str  # UTC, at the start
    load: float  # 1-minute load average before the run
    result: WrkResult
    cpu_ms: float | None = None  # server CPU per request (all processes)
    stored: int | None = None  # successes the server's database gained meanwhile
    duration: float = 0.0  # of the wrk run, seconds

    @property
    def ok_rps(self) -> float:
        """Throughput of 2xx answers only, as wrk saw them."""
        done = max(self.result.requests, 1)
        return self.result.rps * (done - self.result.non_2xx) / done

    @property
    def stored_rps(self) -> float:
        """Successes the database gained, per second of the run."""
        return (self.stored or 0) / self.duration if self.duration else 0.0

    @property
    def rate(self) -> float:
        """The figure the ratios use, each side's in the other's favour: Festival's
        the lower of wrk's 2xx/s and its database's gain per second, a peer's the
        higher (it counts requests a peer finished after wrk gave up on them at 5 s)."""
        pick = min if self.side == "festival" else max
        return pick(self.ok_rps, self.stored_rps) if self.stored is not None else self.ok_rps

    def row(self) -> str:
        r = self.result
        cells = [
            self.kind,
            str(self.pair),
            self.side,
            self.at,
            f"{self.load:.2f}",
            f"{self.ok_rps:,.1f}",
            "" if self.stored is None else f"{self.stored_rps:,.1f}",
            f"{r.requests:,}",
            str(r.non_2xx) + (f" ({r.errors})" if r.errors else ""),
            f"{r.p50_ms:,.1f} ms",
            f"{r.p99_ms:,.1f} ms",
            "" if self.cpu_ms is None else f"{self.cpu_ms:.2f} ms",
        ]
        return "| " + " | ".join(cells) + " |"


async def _scalar(url: str, sql: str) -> Any:
    from sqlalchemy import text

    from festival.db import make_engine

    engine = make_engine(url, pool_size=1, max_overflow=0)
    async with engine.connect() as connection:
        value = (await connection.execute(text(sql))).scalar_one()
    await engine.dispose()
    return value


def count(url: str, sql: str) -> int:
    return int(asyncio.run(_scalar(url, sql)))


def machine(pg_url: str, redis: str) -> str:
    """What the figures were measured on, in one line."""
    import redis as redis_py

    client = redis_py.Redis.from_url(redis)
    redis_version = client.info("server")["redis_version"]
    client.close()
    postgres = asyncio.run(_scalar(pg_url, "SHOW server_version"))
    out = subprocess.run(
        [
            str(PRETIX_BIN / "python"),
            "-c",
            "import sys, pretix; print(pretix.__version__, sys.version)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return (
        f"pretix {out[0]} (Python {out[1]}), Festival on Python {sys.version.split()[0]}, "
        f"PostgreSQL {postgres}, Redis {redis_version}, nproc {os.cpu_count()}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    )


@contextmanager
def pretix_database(admin_url: str) -> Iterator[str]:
    """An empty PostgreSQL database for pretix, dropped afterwards; its name."""
    name = f"pretix_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pretix_config(
    path: Path, admin_url: str, database: str, redis: str, dbs: int, port: int
) -> Path:
    from sqlalchemy.engine import make_url

    pg = make_url(admin_url)
    (path / "data").mkdir(exist_ok=True)
    cfg = path / "pretix.cfg"
    cfg.write_text(
        PRETIX_CFG.format(
            url=f"http://127.0.0.1:{port}",
            datadir=path / "data",
            secret=uuid.uuid4().hex,
            database=database,
            user=pg.username or "postgres",
            password=pg.password or "",
            host=pg.host or "127.0.0.1",
            port=pg.port or 5432,
            redis=redis.rstrip("/"),
            db_cache=dbs,
            db_results=dbs + 1,
            db_broker=dbs + 2,
        )
    )
    return cfg


def pretix(cfg: Path, *args: str, quiet: bool = True) -> None:
    """A step in pretix's venv (setup, run niced as the whole setup is)."""
    env = {**os.environ, "PRETIX_CONFIG_FILE": str(cfg)}
    subprocess.run(
        [str(PRETIX_BIN / "python"), *args],
        env=env,
        cwd=cfg.parent,
        check=True,
        stdout=subprocess.DEVNULL if quiet else None,
    )


def flush_redis(redis: str, dbs: int) -> None:
    import redis as redis_py

    for db in range(dbs, dbs + 3):
        client = redis_py.Redis.from_url(f"{redis.rstrip('/')}/{db}")
        client.flushdb()
        client.close()


def settle(redis: str, dbs: int, limit: float = 300) -> float:
    """Wait until pretix's celery queues (and unacked tasks) are empty; seconds waited."""
    import redis as redis_py

    client = redis_py.Redis.from_url(f"{redis.rstrip('/')}/{dbs + 2}")
    started = time.monotonic()
    try:
        while time.monotonic() - started < limit:
            waiting = 0
            for key in client.scan_iter():
                kind = client.type(key)
                if kind == b"list":
                    waiting += int(client.llen(key))
                elif kind == b"hash" and key.startswith(b"unacked"):
                    waiting += int(client.hlen(key))
            if not waiting:
                break
            time.sleep(0.5)
    finally:
        client.close()
    return time.monotonic() - started


@contextmanager
def pretix_serving(cfg: Path, port: int, workers: int) -> Iterator[PretixServed]:
    """``gunicorn pretix.wsgi`` with ``workers`` sync workers and a celery worker.

    As pretix's install docs run them, less gunicorn's ``--max-requests 1200``:
    a worker's restart (seconds of Django start-up) would land inside a run.
    """
    env = {**os.environ, "PRETIX_CONFIG_FILE": str(cfg)}
    log = cfg.parent / "celery.log"
    with open(log, "wb") as out:
        celery = subprocess.Popen(
            [str(PRETIX_BIN / "celery"), "-A", "pretix.celery_app", "worker", "-l", "error"],
            env=env,
            cwd=cfg.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    command = [
        str(PRETIX_BIN / "gunicorn"),
        "pretix.wsgi",
        "--name",
        "pretix",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    try:
        with serving(command, env, port) as served:
            yield PretixServed(served.base, served.pid, celery.pid)
    finally:
        celery.terminate()
        try:
            celery.wait(timeout=30)
        except subprocess.TimeoutExpired:
            celery.kill()
        failed = [line for line in log.read_text().splitlines() if "ERROR" in line]
        print(f"celery worker: {len(failed)} errors logged", *failed[:5], sep="\n", flush=True)


@contextmanager
def held(lock: str | None, priority: int) -> Iterator[None]:
    """An exclusive flock on ``lock`` (none without one), waited for; then this
    process back at ``priority`` (the setup ran niced), for the servers it starts."""
    with open(lock or os.devnull, "a") as handle:
        if lock is not None:
            print(f"waiting for {lock}", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
            print(f"holding {lock} from {now_utc()} UTC", flush=True)
        try:
            os.setpriority(os.PRIO_PROCESS, 0, priority)
        except PermissionError:
            print("(not root: the runs stay niced, as the setup was)", flush=True)
        yield


def write_lines(path: Path, rows: list[str]) -> str:
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def now_utc() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


def ratios(festival: list[Run], other: list[Run]) -> list[float]:
    return [f.rate / max(o.rate, 1e-9) for f, o in zip(festival, other, strict=True)]


def spread(values: list[float], fmt: str = "{:,.1f}") -> str:
    return (
        f"median {fmt.format(statistics.median(values))} "
        f"({fmt.format(min(values))} to {fmt.format(max(values))})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=os.environ.get("FESTIVAL_BENCH_PG_URL", PG_ADMIN))
    parser.add_argument("--redis-url", default=os.environ.get("FESTIVAL_BENCH_REDIS_URL", REDIS))
    parser.add_argument(
        "--redis-dbs",
        type=int,
        default=10,
        help="pretix takes this Redis db and the next two (cache, results, broker)",
    )
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=2)
    # Each of wrk's 2 threads walks its own half: at 3,000 to 4,000 scans/s for 15 s,
    # a thread that ran ahead could pass its half of 60,000 (repeats answer 409; the
    # likely cause of one run's non-2xx answers in bench/RESULTS.md).
    parser.add_argument("--tickets", type=int, default=90_000, help="Festival tickets per door run")
    parser.add_argument("--orders", type=int, default=3_000, help="pretix orders per door run")
    parser.add_argument(
        "--lock",
        default=os.environ.get("FESTIVAL_BENCH_LOCK"),
        help="a file to flock once set up, for the measured part (machines shared by benches)",
    )
    args = parser.parse_args()
    if not (PRETIX_BIN / "gunicorn").exists():
        raise SystemExit("pretix is not installed: sh bench/peers/pretix/install.sh")
    print(machine(args.pg_url, args.redis_url), flush=True)
    print(f"{args.pairs} pairs of {args.duration} s runs, wrk -t2 -c{args.connections}", flush=True)

    runs: list[Run] = []
    # The setup (seeding, pretix's migrations) must not slow anyone else's run.
    priority = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, priority + 10)
    warm_tickets, warm_orders = 500, 300
    festival_total = warm_tickets + args.tickets * args.pairs
    pretix_total = warm_orders + args.orders * args.pairs
    with (
        scratch_database(args.pg_url) as url,
        pretix_database(args.pg_url) as pretix_db,
        tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp_name,
    ):
        tmp = Path(tmp_name)
        started = time.monotonic()
        door_festival, staff = asyncio.run(seed_festival(url, capacity=festival_total))
        payloads = asyncio.run(seed_tickets(url, door_festival, festival_total))
        register_festival, _ = asyncio.run(seed_festival(url, capacity=1_000_000))
        print(f"festival seeded: {time.monotonic() - started:.0f} s", flush=True)

        pretix_port = free_port()
        cfg = pretix_config(
            tmp, args.pg_url, pretix_db, args.redis_url, args.redis_dbs, pretix_port
        )
        started = time.monotonic()
        pretix(cfg, "-m", "pretix", "migrate", "--noinput")
        seed_file = tmp / "seed.json"
        seed_script = str(PRETIX_DIR / "seed.py")
        pretix(cfg, seed_script, "--orders", str(pretix_total), "--out", str(seed_file))
        seed: dict[str, Any] = json.loads(seed_file.read_text())
        print(f"pretix migrated and seeded: {time.monotonic() - started:.0f} s", flush=True)
        pretix_url = url.rsplit("/", 1)[0] + "/" + pretix_db

        festival_files = [write_lines(tmp / "f-warm.txt", payloads[:warm_tickets])]
        pretix_files = [write_lines(tmp / "p-warm.txt", seed["secrets"][:warm_orders])]
        for n in range(args.pairs):
            lo = warm_tickets + n * args.tickets
            festival_files.append(write_lines(tmp / f"f{n}.txt", payloads[lo : lo + args.tickets]))
            lo = warm_orders + n * args.orders
            pretix_files.append(
                write_lines(tmp / f"p{n}.txt", seed["secrets"][lo : lo + args.orders])
            )

        flush_redis(args.redis_url, args.redis_dbs)
        redeem_env = {
            "BENCH_TOKEN": seed["token"],
            "BENCH_LIST": str(seed["list"]),
            "BENCH_THREADS": "2",
        }
        order_env = {"BENCH_TOKEN": seed["token"], "BENCH_ITEM": str(seed["signup_item"])}
        pretix_checkins = "SELECT count(*) FROM pretixbase_checkin WHERE successful"
        pretix_orders = (
            "SELECT count(*) FROM pretixbase_order o JOIN pretixbase_event e ON e.id = o.event_id "
            f"WHERE o.status = 'p' AND e.slug = '{seed['signup_event']}'"
        )
        festival_checkins = (
            f"SELECT count(*) FROM checkins WHERE result = 'ok' "
            f"AND festival_id = '{door_festival.id}'"
        )
        festival_registrations = (
            f"SELECT count(*) FROM registrations WHERE status = 'confirmed' "
            f"AND festival_id = '{register_festival.id}'"
        )

        def one(kind: str, pair: int, lane: Lane, env: dict[str, str]) -> None:
            waited = settle(args.redis_url, args.redis_dbs)
            if waited > 1:
                print(f"(waited {waited:.0f} s for pretix's celery queue)", flush=True)
            load, at, before = os.getloadavg()[0], now_utc(), count(lane.db, lane.sql)
            result, cpu_ms = measured(lane.served, lane.target, lane.lua, env, args)
            stored = count(lane.db, lane.sql) - before
            runs.append(Run(kind, lane.side, pair, at, load, result, cpu_ms, stored, args.duration))
            print(
                f"{kind} {pair} {lane.side} {at}: {result.line()}; "
                f"{cpu_ms:.2f} ms CPU/request; database +{stored:,}",
                flush=True,
            )

        def bare(kind: str, pair: int) -> None:
            settle(args.redis_url, args.redis_dbs)
            load, at = os.getloadavg()[0], now_utc()
            result = baseline(args)
            runs.append(Run(kind, "bare", pair, at, load, result))
            print(f"{kind} {pair} bare {at}: {result.line()}", flush=True)

        with held(args.lock, priority), pretix_serving(cfg, pretix_port, args.workers) as px:
            base = f"{px.base}/api/v1/organizers/{seed['organizer']}"
            redeem = Lane(
                "pretix", px, f"{base}/checkinrpc/redeem/", REDEEM_LUA, pretix_url, pretix_checkins
            )
            orders = Lane(
                "pretix",
                px,
                f"{base}/events/{seed['signup_event']}/orders/",
                ORDER_LUA,
                pretix_url,
                pretix_orders,
            )
            warm = {"duration": 2, "connections": args.connections}
            secrets = {**redeem_env, "BENCH_PAYLOADS": pretix_files[0]}
            run_wrk(redeem.target, REDEEM_LUA, secrets, **warm)
            run_wrk(orders.target, ORDER_LUA, {**order_env, "BENCH_RUN": "warm"}, **warm)

            port = free_port()
            command, env = festival_server(url, port, args.workers)
            with serving(command, env, port) as fs:
                path = f"/api/v1/festivals/{door_festival.slug}/checkins"
                door = Lane("festival", fs, fs.base + path, SCAN_LUA, url, festival_checkins)
                scan_env = {"BENCH_TOKEN": staff, "BENCH_THREADS": "2"}
                scans = {**scan_env, "BENCH_PAYLOADS": festival_files[0]}
                run_wrk(door.target, SCAN_LUA, scans, **warm)
                for n in range(1, args.pairs + 1):
                    one("door", n, door, {**scan_env, "BENCH_PAYLOADS": festival_files[n]})
                    one("door", n, redeem, {**redeem_env, "BENCH_PAYLOADS": pretix_files[n]})
                    bare("door", n)

            port = free_port()
            command, env = festival_server(url, port, args.workers)
            env["FESTIVAL_RATE_LIMITS"] = "off"  # as bench.registration serves it
            with serving(command, env, port) as fs:
                path = f"/api/v1/festivals/{register_festival.slug}/registrations"
                register = Lane(
                    "festival", fs, fs.base + path, REGISTER_LUA, url, festival_registrations
                )
                run_wrk(register.target, REGISTER_LUA, {"BENCH_RUN": "warm"}, **warm)
                for n in range(1, args.pairs + 1):
                    one("registration", n, register, {"BENCH_RUN": f"r{n}"})
                    one("registration", n, orders, {**order_env, "BENCH_RUN": f"r{n}"})
                    bare("registration", n)
            settle(args.redis_url, args.redis_dbs)
        flush_redis(args.redis_url, args.redis_dbs)

    print()
    print(
        "| run | pair | side | UTC | load before | 2xx/s (wrk) | stored/s (database) "
        "| requests | non-2xx | p50 | p99 | server CPU/request |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(run.row())

    def side(kind: str, name: str) -> list[Run]:
        return [r for r in runs if r.kind == kind and r.side == name]

    door_x = ratios(side("door", "festival"), side("door", "pretix"))
    door_bare = ratios(side("door", "festival"), side("door", "bare"))
    register_x = ratios(side("registration", "festival"), side("registration", "pretix"))
    print()
    print(f"door / pretix redeem, per pair: {', '.join(f'{x:,.1f}' for x in door_x)}")
    print(f"door / bare ASGI, per pair: {', '.join(f'1/{1 / x:,.1f}' for x in door_bare)}")
    print(f"registration / pretix order, per pair: {', '.join(f'{x:,.1f}' for x in register_x)}")
    clean = all(r.result.non_2xx == 0 and not r.result.errors for r in runs)
    print(f"every answer 2xx, no socket errors: {clean}")
    print(verdict(">= 40x pretix's check-in redeem (door)", min(door_x) >= 40, spread(door_x)))
    print(
        verdict(
            ">= 1/15 of the bare ASGI endpoint (door)",
            min(door_bare) >= 1 / 15,
            spread([1 / x for x in door_bare], "1/{:,.1f}"),
        )
    )
    print(
        verdict(
            ">= 50x pretix's order creation (registration)",
            min(register_x) >= 50,
            spread(register_x),
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
