"""The abuse limits' cost: the door scan (and a registration) with FESTIVAL_RATE_LIMITS on and off.

One scratch PostgreSQL database (dropped at the end), one published festival
with enough unscanned tickets for every phase, and `festival serve --workers 2`
started afresh for each phase, alternating limits on, off, on, off
(``--rounds``, so drift on a shared box falls on both sides alike). Each phase
is a 2 s warm-up and ``--duration`` seconds of wrk (2 threads, 32 connections)
scanning tickets no other phase scans (a repeat would answer 409, another path).
Target (issue 16): the limits cost the door scan below 5 % of its throughput.

Nothing on the door-scan path is limited (a scan needs a staff token and a
signed ticket; there is nothing to guess), so this measures what having the
limits on costs a path that does not count: it must be nothing. With
``--registrations``, the same alternation on the registration path, which
counts one hit per request against the client's address: the server trusts
loopback as a proxy and wrk sends a new ``X-Forwarded-For`` on every request
(a new key each time, the limiter's worst case, and no request over its
limit). ``--redis URL`` keeps the limits in Redis (one script call per counted
request) instead of in each worker's memory.

    .venv/bin/python -m bench.limits [--pg-url URL] [--duration 10] [--connections 32]
        [--rounds 2] [--registrations] [--redis URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

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


def summary(phases: list[Phase], path: str) -> tuple[float, str]:
    """The on/off throughput ratio of ``path`` (mean over rounds), and its figures."""
    on = [p for p in phases if p.path == path and p.limits == "on"]
    off = [p for p in phases if p.path == path and p.limits == "off"]
    rps_on = statistics.mean(p.result.rps for p in on)
    rps_off = statistics.mean(p.result.rps for p in off)
    cpu_on = statistics.mean(p.cpu_ms for p in on)
    cpu_off = statistics.mean(p.cpu_ms for p in off)
    p99_on = statistics.mean(p.result.p99_ms for p in on)
    p99_off = statistics.mean(p.result.p99_ms for p in off)
    non_2xx = sum(p.result.non_2xx for p in on + off)
    ratio = rps_on / rps_off
    text = (
        f"{path}: limits on {rps_on:,.0f} req/s, off {rps_off:,.0f} req/s, on/off "
        f"{ratio:.3f} ({(1 - ratio) * 100:+.1f} % cost); CPU per request on {cpu_on:.2f} ms, "
        f"off {cpu_off:.2f} ms; p99 on {p99_on:.1f} ms, off {p99_off:.1f} ms; "
        f"non-2xx {non_2xx}"
    )
    return ratio, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=os.environ.get("FESTIVAL_BENCH_PG_URL", PG_ADMIN))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="on/off pairs")
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
    ratio, text = summary(phases, "checkin")
    print(text)
    if args.registrations:
        print(summary(phases, "registration")[1])
    print(verdict("limits cost the door scan < 5 %", ratio > 0.95, f"on/off {ratio:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
