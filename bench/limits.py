"""The abuse limits' cost: the door scan (and a registration) with FESTIVAL_RATE_LIMITS on and off.

One scratch PostgreSQL database (dropped at the end), one published festival
with enough unscanned tickets for every phase, and `festival serve --workers 2`
started afresh for each phase, alternating limits on, off, on, off
(``--rounds`` pairs, so drift on a shared box falls on both sides alike; the
throughput ratio is the median of the rounds'). Each phase
is a 2 s warm-up and ``--duration`` seconds of wrk (2 threads, 32 connections)
scanning tickets no other phase scans (a repeat would answer 409, another path).
Target (issue 16): the limits cost the door scan below 5 %, judged on the
server's CPU time per scan (throughput is shown too, but on a shared box it
moves with whatever else runs: the off phases' spread says by how much).

Nothing on the door-scan path is limited (a scan needs a staff token and a
signed ticket; there is nothing to guess), so this measures what having the
limits on costs a path that does not count: it must be nothing. With
``--registrations``, the same alternation on the registration path, which
counts one hit per request against the client's address: the server trusts
loopback as a proxy and wrk sends a new ``X-Forwarded-For`` on every request
(a new key each time, the limiter's worst case, and no request over its
limit). ``--redis URL`` keeps the limits in Redis (one script call per counted
request) instead of in each worker's memory. Last, the limiter alone: the time
of one counted hit, in memory and (with ``--redis``) in Redis.

    .venv/bin/python -m bench.limits [--pg-url URL] [--duration 10] [--connections 32]
        [--rounds 3] [--registrations] [--redis URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.checkin import (
    PG_ADMIN,
    SCAN_LUA,
    WrkResult,
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

# Every request from its own address in 10.0.0.0/8 (wrk thread id, request count).
FORWARDED_LUA = REGISTER_LUA.replace(
    '{["Content-Type"] = "application/json"}',
    '{["Content-Type"] = "application/json", ["X-Forwarded-For"] = "10." .. id .. "." .. '
    'math.floor(counter / 256) % 256 .. "." .. counter % 256}',
)
assert FORWARDED_LUA != REGISTER_LUA


@dataclass
class Phase:
    path: str
    limits: str
    result: WrkResult
    cpu_ms: float

    def line(self) -> str:
        return f"{self.path} limits {self.limits}: {self.result.line()}, {self.cpu_ms:.2f} ms CPU"


def _serve_env(
    url: str, port: int, args: argparse.Namespace, limits: str
) -> tuple[list[str], dict[str, str]]:
    command, env = festival_server(url, port, args.workers)
    env = env | {"FESTIVAL_RATE_LIMITS": limits, "FESTIVAL_TRUSTED_PROXIES": "127.0.0.1"}
    env.pop("FESTIVAL_REDIS_URL", None)
    if args.redis:
        env |= {"FESTIVAL_REDIS_URL": args.redis, "FESTIVAL_REDIS_PREFIX": args.prefix}
    return command, env


def scan_phase(
    url: str, slug: str, staff: str, files: tuple[Path, Path], limits: str, args: argparse.Namespace
) -> Phase:
    port = free_port()
    command, env = _serve_env(url, port, args, limits)
    with serving(command, env, port) as served:
        target = f"{served.base}/api/v1/festivals/{slug}/checkins"
        lua_env = {"BENCH_TOKEN": staff, "BENCH_THREADS": "2"}
        warm, scans = files
        run_wrk(
            target,
            SCAN_LUA,
            lua_env | {"BENCH_PAYLOADS": str(warm)},
            duration=2,
            connections=args.connections,
        )
        result, cpu_ms = measured(
            served, target, SCAN_LUA, lua_env | {"BENCH_PAYLOADS": str(scans)}, args
        )
    return Phase("checkin", limits, result, cpu_ms)


def registration_phase(url: str, slug: str, limits: str, n: int, args: argparse.Namespace) -> Phase:
    port = free_port()
    command, env = _serve_env(url, port, args, limits)
    with serving(command, env, port) as served:
        target = f"{served.base}/api/v1/festivals/{slug}/registrations"
        run_wrk(
            target,
            FORWARDED_LUA,
            {"BENCH_RUN": f"warm{n}"},
            duration=2,
            connections=args.connections,
        )
        result, cpu_ms = measured(served, target, FORWARDED_LUA, {"BENCH_RUN": f"r{n}"}, args)
    return Phase("registration", limits, result, cpu_ms)


def limiter_alone(redis_url: str | None) -> list[str]:
    """What one counted request costs the limiter itself, timed in this process: a
    registration's hit (a new key each time) in memory, and in Redis when given."""
    from festival.limits import REGISTER_ADDRESS, Limiter, MemoryLimiter, RedisLimiter

    async def per_hit(limiter: Limiter, count: int) -> float:
        started = time.perf_counter()
        for n in range(count):
            await limiter.hit(
                (REGISTER_ADDRESS, f"bench|10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
            )
        return (time.perf_counter() - started) / count * 1e6

    async def run() -> list[str]:
        lines = [f"limiter alone, memory: {await per_hit(MemoryLimiter(), 100_000):.1f} us per hit"]
        if redis_url:
            from redis.asyncio import Redis

            redis: Redis[Any] = Redis.from_url(redis_url)
            prefix = f"bench-limits-alone-{uuid.uuid4().hex[:8]}"
            took = await per_hit(RedisLimiter(redis, prefix), 5_000)
            lines.append(f"limiter alone, Redis: {took:.1f} us per hit (one round trip)")
            async for key in redis.scan_iter(f"{prefix}:*"):
                await redis.delete(key)
            await redis.aclose()
        return lines

    return asyncio.run(run())


@dataclass
class Summary:
    """On/off ratios of one path: server CPU per request (means over phases) and
    throughput (the median over rounds of each on phase against the off phase
    after it), and the spread of the off phases' throughput among themselves,
    the noise a throughput difference has to clear."""

    cpu_ratio: float
    rps_ratio: float
    spread: float
    text: str


def summary(phases: list[Phase], path: str) -> Summary:
    on = [p for p in phases if p.path == path and p.limits == "on"]
    off = [p for p in phases if p.path == path and p.limits == "off"]
    pairs = [a.result.rps / b.result.rps for a, b in zip(on, off, strict=True)]
    ratio = statistics.median(pairs)
    rps_off = [p.result.rps for p in off]
    spread = max(rps_off) / min(rps_off) - 1
    cpu_on = statistics.mean(p.cpu_ms for p in on)
    cpu_off = statistics.mean(p.cpu_ms for p in off)
    p99_on = statistics.median(p.result.p99_ms for p in on)
    p99_off = statistics.median(p.result.p99_ms for p in off)
    non_2xx = sum(p.result.non_2xx for p in on + off)
    text = (
        f"{path}: limits on {statistics.mean(p.result.rps for p in on):,.0f} req/s, off "
        f"{statistics.mean(rps_off):,.0f} req/s (means); on/off per round "
        f"{', '.join(f'{r:.3f}' for r in pairs)}, median {ratio:.3f} "
        f"({(1 - ratio) * 100:+.1f} % cost); off phases spread {spread * 100:.0f} %; "
        f"CPU per request on {cpu_on:.2f} ms, off {cpu_off:.2f} ms ({cpu_on / cpu_off:.3f}); "
        f"p99 (median) on {p99_on:.1f} ms, off {p99_off:.1f} ms; non-2xx {non_2xx}"
    )
    return Summary(cpu_on / cpu_off, ratio, spread, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=os.environ.get("FESTIVAL_BENCH_PG_URL", PG_ADMIN))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="on/off pairs")
    parser.add_argument(
        "--tickets", type=int, default=25_000, help="unscanned tickets per scan phase"
    )
    parser.add_argument("--registrations", action="store_true", help="the registration path too")
    parser.add_argument("--redis", default=os.environ.get("FESTIVAL_BENCH_REDIS_URL"))
    args = parser.parse_args()
    args.prefix = f"bench-limits-{uuid.uuid4().hex[:8]}"
    order = ["on", "off"] * args.rounds
    phases: list[Phase] = []
    with scratch_database(args.pg_url) as url, tempfile.TemporaryDirectory() as tmp:
        warm_count = 500
        per_phase = args.tickets + warm_count
        festival, staff = asyncio.run(seed_festival(url, capacity=per_phase * len(order) + 10**6))
        payloads = asyncio.run(seed_tickets(url, festival, per_phase * len(order)))
        for n, limits in enumerate(order):
            chunk = payloads[n * per_phase : (n + 1) * per_phase]
            warm, scans = Path(tmp) / f"warm{n}.txt", Path(tmp) / f"scans{n}.txt"
            warm.write_text("\n".join(chunk[:warm_count]) + "\n")
            scans.write_text("\n".join(chunk[warm_count:]) + "\n")
            phase = scan_phase(url, festival.slug, staff, (warm, scans), limits, args)
            print(phase.line(), flush=True)
            phases.append(phase)
        if args.registrations:
            for n, limits in enumerate(order):
                phase = registration_phase(url, festival.slug, limits, n, args)
                print(phase.line(), flush=True)
                phases.append(phase)
    store = f"Redis ({args.redis})" if args.redis else "each worker's memory"
    print(
        f"setup: festival serve --workers {args.workers}, PostgreSQL, limits in {store}, "
        f"wrk -t2 -c{args.connections} -d{args.duration}s per phase, phases {' '.join(order)}"
    )
    door = summary(phases, "checkin")
    print(door.text)
    if args.registrations:
        print(summary(phases, "registration").text)
    for line in limiter_alone(args.redis):
        print(line)
    # Server CPU per scan is the cost itself; throughput on a shared box moves with
    # everything else running (see the off phases' spread), so it is shown, not judged.
    figure = (
        f"CPU per scan on/off {door.cpu_ratio:.3f}; throughput on/off {door.rps_ratio:.3f} "
        f"with the off phases {door.spread * 100:.0f} % apart"
    )
    print(
        verdict(
            "limits cost the door scan < 5 % (server CPU per scan)", door.cpu_ratio < 1.05, figure
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
