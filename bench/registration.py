"""Registration under load: 32 concurrent clients against `festival serve --workers 2`.

A scratch PostgreSQL database (dropped at the end), a published festival with
room for everyone (so every request takes the full path: a place claimed by
the conditional update, a ticket signed, two tokens, an outbox message), the
real app served by `festival serve --workers 2` on 127.0.0.1, and wrk (2
threads, 32 connections) posting a new e-mail address on every request.
Baseline in the same run: the bare ASGI endpoint of ``bench.checkin``, served
the same way. Target: >= 500 registrations/s.

    .venv/bin/python -m bench.registration [--pg-url URL] [--duration 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os

from bench.checkin import (
    PG_ADMIN,
    THREADS_LUA,
    baseline,
    festival_server,
    free_port,
    measured,
    report,
    run_wrk,
    scratch_database,
    seed_festival,
    serving,
    verdict,
)

REGISTER_LUA = (
    """
local counter = 0
local run = os.getenv("BENCH_RUN")"""
    + THREADS_LUA
    + """function request()
  counter = counter + 1
  local body = '{"name":"Guest ' .. id .. '-' .. counter .. '","email":"g' .. run .. '-' ..
    id .. '-' .. counter .. '@bench.example.org","country":"Kenya"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=os.environ.get("FESTIVAL_BENCH_PG_URL", PG_ADMIN))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with scratch_database(args.pg_url) as url:
        festival, _ = asyncio.run(seed_festival(url, capacity=1_000_000))
        port = free_port()
        command, env = festival_server(url, port, args.workers)
        # 500 registrations/s from one address is what the abuse limits refuse by
        # design; bench.limits --registrations measures them on this path.
        env["FESTIVAL_RATE_LIMITS"] = "off"
        with serving(command, env, port) as served:
            target = f"{served.base}/api/v1/festivals/{festival.slug}/registrations"
            run_wrk(
                target,
                REGISTER_LUA,
                {"BENCH_RUN": "warm"},
                duration=2,
                connections=args.connections,
            )
            result, cpu_ms = measured(served, target, REGISTER_LUA, {"BENCH_RUN": "main"}, args)
        bare = baseline(args)
    report("registration", "registration", result, cpu_ms, bare)
    if args.connections == 32:
        print(
            verdict(">= 500 registrations/s, 32 clients", result.rps >= 500, f"{result.rps:,.0f}/s")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
