"""Programme feeds and list under load: 2,000 sessions, 20 rooms, 400 speakers.

Serves the real app with uvicorn (one worker, a subprocess on 127.0.0.1) over
a fresh SQLite file, or the PostgreSQL given with ``--database-url``, and
measures from an httpx client on the same machine:

- each export (calendar.ics, schedule.xml, schedule.json, programme.csv):
  full request time and the server's render time (``Server-Timing``), every
  request a cold render (nothing is cached);
- the 304 answer to ``If-None-Match``;
- ``GET /programme`` pages (limit 50, random days and cursors) with 16
  concurrent clients: p50 / p99.

Baseline, measured in the same run: ``GET /healthz`` (no database), alone and
under the same 16 concurrent clients. Targets: export <= 200 ms, 304 <= 5 ms,
programme p99 <= 50 ms. The whole run is bounded (about a minute).

    .venv/bin/python -m bench.programme [--database-url URL] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import httpx

FEEDS = ("calendar.ics", "schedule.xml", "schedule.json", "programme.csv")
CLIENTS = 16
PROCESSES = 2


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _prepare(url: str) -> tuple[str, str]:
    """Migrate, then make a published festival with the generated programme."""
    from festival.auth import create_organiser, issue_token
    from festival.db import make_engine, make_sessionmaker, unit_of_work, utcnow
    from festival.migrate import upgrade
    from festival.models import Festival
    from tests.factories.schedule import bulk_programme

    engine = make_engine(url)
    await upgrade(engine)
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    async with unit_of_work(make_sessionmaker(engine)) as db:
        account, _ = await create_organiser(db, f"{slug}@bench.invalid", "bench-password")
        festival = Festival(
            id=uuid.uuid4(),
            slug=slug,
            name="Bench Festival",
            timezone="Europe/Amsterdam",
            starts_on=date(2030, 10, 8),
            ends_on=date(2030, 10, 9),
            mode="hybrid",
            capacity=5000,
            owner_id=account.id,
            published_at=utcnow(),
            settings={},
        )
        db.add(festival)
        await db.flush()
        _, token = await issue_token(db, "organiser", account_id=account.id)
    await bulk_programme(engine, festival.id, sessions=2000, rooms=20, speakers=400)
    await engine.dispose()
    return slug, token


def _ms(seconds: list[float]) -> tuple[float, float, float]:
    ordered = sorted(s * 1000 for s in seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, ordered[-1]


async def _timed(
    client: httpx.AsyncClient, path: str, **kw: object
) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await client.get(path, **kw)  # type: ignore[arg-type]
    return time.perf_counter() - started, response


def _client_process(
    base: str, paths: list[str], clients: int, per_client: int, seed: int
) -> list[float]:
    """One client process: ``clients`` concurrent connections, each a closed loop."""

    async def run() -> list[float]:
        times: list[float] = []
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

            async def worker(n: int) -> None:
                rng = random.Random(seed * 100 + n)
                for _ in range(per_client):
                    elapsed, response = await _timed(client, rng.choice(paths))
                    assert response.status_code == 200, response.text
                    times.append(elapsed)

            await asyncio.gather(*(worker(n) for n in range(clients)))
        return times

    return asyncio.run(run())


def _concurrent(base: str, paths: list[str], per_client: int) -> list[float]:
    """CLIENTS concurrent clients spread over PROCESSES processes, so that one
    client event loop is not what the latencies measure."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    per_process = CLIENTS // PROCESSES
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(PROCESSES, mp_context=context) as pool:
        futures = [
            pool.submit(_client_process, base, paths, per_process, per_client, seed)
            for seed in range(PROCESSES)
        ]
        return [t for f in futures for t in f.result()]


async def _export(
    client: httpx.AsyncClient, api: str, feed: str, token: str, rounds: int, health: float
) -> str:
    """Cold renders (a session changed just before each), warm hits, and 304s."""
    first = (await client.get(f"{api}/sessions?limit=1")).json()["items"][0]["id"]
    cold, renders, warm, size, etag = [], [], [], 0, ""
    for n in range(rounds):
        changed = await client.patch(
            f"{api}/sessions/{first}",
            json={"abstract": f"change {n} {feed}"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert changed.status_code == 200, changed.text
        elapsed, response = await _timed(client, f"{api}/{feed}")
        assert response.status_code == 200, response.text
        cold.append(elapsed)
        renders.append(float(response.headers["server-timing"].split("dur=")[1]) / 1000)
        size, etag = len(response.content), response.headers["etag"]
        warm.append((await _timed(client, f"{api}/{feed}"))[0])
    not_modified = []
    for _ in range(rounds * 5):
        elapsed, response = await _timed(client, f"{api}/{feed}", headers={"If-None-Match": etag})
        assert response.status_code == 304
        not_modified.append(elapsed)
    c50, _, cmax = _ms(cold)
    r50, _, rmax = _ms(renders)
    w50, _, _ = _ms(warm)
    n50, n99, _ = _ms(not_modified)
    return (
        f"{feed}: {size / 1024:.0f} KiB; cold request p50 {c50:.0f} ms (max {cmax:.0f}), "
        f"server load+render p50 {r50:.0f} ms (max {rmax:.0f}); cached 200 p50 {w50:.1f} ms; "
        f"304 p50 {n50:.1f} ms, p99 {n99:.1f} ms ({n50 / health:.1f}x baseline p50)"
    )


async def _measure(base: str, slug: str, token: str, rounds: int) -> list[str]:
    lines = []
    api = f"/api/v1/festivals/{slug}"
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        for _ in range(20):  # warm up the process and the database caches
            await client.get("/healthz")
        await client.get(f"{api}/programme")
        health = [(await _timed(client, "/healthz"))[0] for _ in range(rounds * 5)]
        h50, h99, _ = _ms(health)
        lines.append(f"baseline GET /healthz alone: p50 {h50:.1f} ms, p99 {h99:.1f} ms")
        for feed in FEEDS:
            lines.append(await _export(client, api, feed, token, rounds, h50))
        days = ["", "?day=2030-10-08", "?day=2030-10-09"]
        cursors = [(await client.get(f"{api}/programme?limit=50")).json()["next_cursor"]]
        for _ in range(5):
            page = (await client.get(f"{api}/programme?limit=50&cursor={cursors[-1]}")).json()
            cursors.append(page["next_cursor"])
        paths = [f"{api}/programme{d}" for d in days] + [
            f"{api}/programme?limit=50&cursor={c}" for c in cursors if c
        ]
        alone = [(await _timed(client, p))[0] for p in paths for _ in range(rounds)]
        a50, a99, _ = _ms(alone)
        lines.append(f"GET /programme (50 per page) alone: p50 {a50:.1f} ms, p99 {a99:.1f} ms")
        base_times = await asyncio.to_thread(_concurrent, base, ["/healthz"], rounds * 5)
        b50, b99, _ = _ms(base_times)
        list_times = await asyncio.to_thread(_concurrent, base, paths, rounds * 5)
        l50, l99, lmax = _ms(list_times)
        lines.append(
            f"baseline GET /healthz, {CLIENTS} concurrent clients ({PROCESSES} processes): "
            f"p50 {b50:.1f} ms, p99 {b99:.1f} ms"
        )
        lines.append(
            f"GET /programme (50 per page), {CLIENTS} concurrent clients, {len(list_times)} "
            f"requests: p50 {l50:.1f} ms, p99 {l99:.1f} ms, max {lmax:.1f} ms "
            f"({l99 / b99:.1f}x baseline p99)"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        slug, token = asyncio.run(_prepare(url))
        port = _port()
        env = {
            **os.environ,
            "FESTIVAL_DATABASE_URL": url,
            "FESTIVAL_LOG_LEVEL": "WARNING",
            "FESTIVAL_SECRET_KEY": "bench-secret-key-not-for-production",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.2)
            backend = "postgresql" if url.startswith("postgresql") else "sqlite"
            print(
                f"programme bench on {backend}, {args.workers} worker(s): "
                "2000 sessions, 20 rooms, 400 speakers"
            )
            for line in asyncio.run(
                asyncio.wait_for(
                    _measure(f"http://127.0.0.1:{port}", slug, token, args.rounds), 300
                )
            ):
                print("  " + line, flush=True)
        finally:
            server.terminate()
            server.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
