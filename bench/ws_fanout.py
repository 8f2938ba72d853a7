"""Websocket fan-out: N real sockets in one live session on one `festival serve` process.

For each N (default 1,000 / 5,000 / 10,000) it measures, against a real uvicorn:
- question -> every socket: the time from `question.ask` being sent to its
  `question.added` reaching each socket (p50, p99, and the time to reach all);
- memory per idle socket (server RSS with N sockets minus RSS with none, / N);
- a vote storm: 2,000 votes/s for 10 s from 1,000 distinct attendees, then
  whether every socket ends on the exact counts in the database;
- in the same run, a raw `websockets` server broadcasting one frame to the same
  N clients (`websockets.broadcast`), and our delivery rate as a ratio of it;
  then, on the same sockets, the floor: the frame written by a bare loop of
  `os.write` (`loop_*`), what any one-threaded Python server could do here.
With `--redis URL`, two server processes share Redis and a session: the time
from a question asked on one to its arrival at sockets of the other.

The clients run in `--procs` processes (default 1), each socket a
`websockets` client protocol with no task of its own (`bench.ws_clients`).
On a 2-core box every client process competes with the single-threaded
server for the cores; one leaves the server a core of its own, and more
slowed both us and the baseline (the bare server's p99 at 10,000: 142 to
212 ms with 2 or 4 processes, 124 to 148 ms with 1).
With `--clients ordinary`, the clients are instead the `websockets` library's
asyncio clients, a reader task each, in one process, and the timed event is a
moderator's approve (`bench.ws_ordinary`).
Run: `.venv/bin/python -m bench.ws_fanout [--sizes 1000,5000,10000] [--redis URL]
[--clients light|ordinary] [--rounds 20]`.
Only 127.0.0.0/8 is touched; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import multiprocessing as mp
import os
import resource
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench import ws_setup
from bench.ws_clients import client_main

QUESTIONS_IN_STORM = 20
VOTERS = 1000
STORM_RATE = 2000
STORM_SECONDS = 10
ROUNDS = 8
SETTLE = 2.0  # seconds between the askers joining and the first timed question


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Pool:
    """The client processes and their control pipes."""

    conns: list[Connection]
    procs: list[Any]

    @classmethod
    def start(cls, count: int, base: int, target: Any = client_main) -> Pool:
        ctx = mp.get_context("spawn")
        conns, procs = [], []
        for i in range(count):
            here, there = ctx.Pipe()
            proc = ctx.Process(target=target, args=(there, f"127.0.{base}.{10 + i}"))
            proc.start()
            conns.append(here)
            procs.append(proc)
        return cls(conns, procs)

    def ask(self, *command: Any, timeout: float = 300) -> list[Any]:
        for conn in self.conns:
            conn.send(command)
        replies = []
        for conn in self.conns:
            if not conn.poll(timeout):
                raise TimeoutError(f"client process did not answer {command[0]}")
            replies.append(conn.recv())
        return replies

    def split(self, urls: list[str]) -> list[list[tuple[int, str]]]:
        """Round-robin (global index, url) shares, one per client process."""
        numbered = list(enumerate(urls))
        return [numbered[i :: len(self.conns)] for i in range(len(self.conns))]

    def each(self, command: str, parts: list[Any], timeout: float = 300) -> list[Any]:
        for conn, part in zip(self.conns, parts, strict=True):
            conn.send((command, part))
        out = []
        for conn in self.conns:
            if not conn.poll(timeout):
                raise TimeoutError(f"client process did not answer {command}")
            out.append(conn.recv())
        return out

    def stop(self) -> None:
        for conn in self.conns:
            conn.send(("exit",))
        for proc in self.procs:
            proc.join(20)
            if proc.is_alive():
                proc.kill()


async def _serve_ours(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    exe = Path(sys.executable).with_name("festival")
    command = [str(exe), "serve", "--port", str(port)]
    if os.environ.get("BENCH_WS"):  # try another uvicorn websocket implementation
        command = [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port)]
        if os.environ.get("BENCH_PROFILE"):
            command[1:1] = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
        command += ["--ws", os.environ["BENCH_WS"], "--log-level", "warning"]
    proc = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL
    )
    await ws_setup.wait_ready(f"http://127.0.0.1:{port}", proc)
    return proc


async def _serve_raw(port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.ws_raw_server", str(port)
    )
    await ws_setup.wait_port(port, proc)
    return proc


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def _latency_rounds(pool: Pool, send: Any, rounds: int) -> tuple[list[float], list[float]]:
    """(every arrival latency in ms, time to reach all sockets per round in ms)."""
    everyone, full = [], []
    for r in range(rounds):
        marker = f"bench-{r}-{time.monotonic_ns()}"
        pool.ask("expect", marker)
        t0 = time.monotonic()
        send(marker)
        arrivals = [t for reply in pool.ask("arrivals", marker, timeout=60) for t in reply]
        lat = [(t - t0) * 1000 for t in arrivals]
        everyone += lat
        full.append(max(lat) if lat else float("nan"))
        time.sleep(0.3)
    return everyone, full


def log(*parts: Any) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def run_size(n: int, procs: int, base: int, tmp: Path, db_url: str | None) -> dict[str, Any]:
    """Our server then the raw baseline, for one N."""
    result: dict[str, Any] = {"n": n}
    # A token may hold 5 sockets (realtime.protocol.Limits): at least one token per
    # 4 sockets, and the first VOTERS sockets on distinct tokens for the storm.
    tokens = max(VOTERS, -(-n // 4))
    setup = ws_setup.prepare(tmp / f"bench-{n}.db", db_url, tokens, QUESTIONS_IN_STORM)
    port = ws_setup.free_port()
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(_serve_ours(setup.env, port))
    pool = Pool.start(procs, base)
    log(f"n={n}: server up, {procs} client processes")
    try:
        time.sleep(1.0)
        idle_before = rss_kib(server.pid)
        urls = [setup.ws_url(port, setup.tokens[i % len(setup.tokens)]) for i in range(n)]
        t0 = time.monotonic()
        connected = pool.each("connect", pool.split(urls), timeout=900)
        result["connect_s"] = round(time.monotonic() - t0, 1)
        result["connected"] = sum(c[0] for c in connected)
        log(f"n={n}: {result['connected']} connected in {result['connect_s']} s")
        time.sleep(3.0)
        result["kib_per_socket"] = round((rss_kib(server.pid) - idle_before) / max(1, n), 1)
        asker = ws_setup.Asker(port, setup)
        # The askers' joins change the participant count, broadcast to every socket
        # (coalesced, once a second at 10,000): let it go out before the timing starts.
        time.sleep(SETTLE)
        lat, full = _latency_rounds(pool, asker.ask, ROUNDS)
        asker.close()
        log(f"n={n}: latency rounds done")
        result |= {"p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99)}
        result["all_ms"] = statistics.median(full)
        result["rounds_ms"] = [round(ms) for ms in full]
        result |= storm(pool, setup, n)
        pool.ask("close_all", timeout=300)
    finally:
        loop.run_until_complete(_stop(server))
    raw = loop.run_until_complete(_serve_raw(port))
    try:
        time.sleep(0.5)
        idle_before = rss_kib(raw.pid)
        urls = [f"ws://127.0.0.1:{port}/" for _ in range(n)]
        pool.each("connect", pool.split(urls), timeout=900)
        time.sleep(2.0)
        result["raw_kib_per_socket"] = round((rss_kib(raw.pid) - idle_before) / max(1, n), 1)
        trigger = ws_setup.RawTrigger(port)
        lat, full = _latency_rounds(pool, trigger.send, ROUNDS)
        result |= {"raw_p50_ms": pct(lat, 0.5), "raw_p99_ms": pct(lat, 0.99)}
        result["raw_all_ms"] = statistics.median(full)
        result["raw_rounds_ms"] = [round(ms) for ms in full]
        result["ratio"] = round(result["raw_all_ms"] / result["all_ms"], 2)
        lat, full = _latency_rounds(pool, lambda marker: trigger.send(f"loop:{marker}"), ROUNDS)
        trigger.close()
        result |= {"loop_p50_ms": pct(lat, 0.5), "loop_p99_ms": pct(lat, 0.99)}
        result["loop_all_ms"] = statistics.median(full)
        result["loop_rounds_ms"] = [round(ms) for ms in full]
        pool.ask("close_all", timeout=300)
    finally:
        pool.stop()
        loop.run_until_complete(_stop(raw))
        loop.close()
    return result


def storm(pool: Pool, setup: ws_setup.Setup, n: int) -> dict[str, Any]:
    """2,000 votes/s for 10 s from the voters' sockets; then every socket's counts vs the DB."""
    voters = min(VOTERS, n)
    per_voter = QUESTIONS_IN_STORM  # one up-vote per question each: 1,000 x 20 = 20,000 votes
    plan = {"questions": setup.question_ids, "votes_each": per_voter, "seconds": STORM_SECONDS}
    t0 = time.monotonic()
    sent = pool.ask("storm", plan, voters, timeout=200)
    elapsed = time.monotonic() - t0
    acks, errors = sum(s[0] for s in sent), sum(s[1] for s in sent)
    closes: dict[str, int] = {}
    for reply in pool.ask("closes"):
        for code, count in reply.items():
            closes[code] = closes.get(code, 0) + count
    if closes:
        log(f"n={n}: sockets closed during the storm, by code: {closes}")
    truth = {q: n for q, n in ws_setup.db_counts(setup).items() if q in setup.question_ids}
    converged = pool.ask("converge", truth, 30, timeout=120)
    exact = sum(c[0] for c in converged)
    return {
        "storm_votes": acks,
        "storm_errors": errors,
        "storm_rate": round(acks / elapsed),
        "storm_s": round(elapsed, 1),
        "db_total": sum(truth.values()),
        "exact_sockets": exact,
        "converge_s": round(max(c[1] for c in converged), 2),
    }


def redis_cross(
    redis_url: str, procs: int, tmp: Path, db_url: str | None, n: int
) -> dict[str, Any]:
    """Two processes on one Redis: asked on A, arrival at B's sockets."""
    setup = ws_setup.prepare(tmp / "bench-redis.db", db_url, 50, 1)
    env = setup.env | {
        "FESTIVAL_REDIS_URL": redis_url,
        "FESTIVAL_REDIS_PREFIX": f"bench-{os.getpid()}-{time.monotonic_ns()}",
    }
    loop = asyncio.new_event_loop()
    port_a, port_b = ws_setup.free_port(), ws_setup.free_port()
    a = loop.run_until_complete(_serve_ours(env, port_a))
    b = loop.run_until_complete(_serve_ours(env, port_b))
    pool = Pool.start(procs, 250)
    out: dict[str, Any] = {"n": n}
    try:
        for name, port in (("same", port_a), ("cross", port_b)):
            urls = [setup.ws_url(port, setup.tokens[i % len(setup.tokens)]) for i in range(n)]
            pool.each("connect", pool.split(urls), timeout=300)
            asker = ws_setup.Asker(port_a, setup)
            lat, _ = _latency_rounds(pool, asker.ask, ROUNDS)
            asker.close()
            out |= {f"{name}_p50_ms": pct(lat, 0.5), f"{name}_p99_ms": pct(lat, 0.99)}
            pool.ask("close_all")
    finally:
        pool.stop()
        loop.run_until_complete(_stop(a))
        loop.run_until_complete(_stop(b))
        ws_setup.forget_redis(redis_url, env["FESTIVAL_REDIS_PREFIX"])
        loop.close()
    return out


def verdicts(result: dict[str, Any]) -> list[str]:
    """One line per target of the issue for one N: met or not in this run."""
    n = result["n"]

    def line(target: str, met: bool, figure: str) -> str:
        return f"N={n:,}: {target}: {'met' if met else 'NOT met'} ({figure})"

    p99, loop_p99, kib = result["p99_ms"], result["loop_p99_ms"], result["kib_per_socket"]
    return [
        line("sockets held", result["connected"] == n, f"{result['connected']:,} connected"),
        line(
            "p99 <= 150 ms",
            p99 <= 150,
            f"{p99:.0f} ms; raw websockets {result['raw_p99_ms']:.0f}, bare send loop "
            f"{loop_p99:.0f}",
        ),
        line("ratio >= 0.7", result["ratio"] >= 0.7, f"{result['ratio']:.2f}"),
        line("<= 20 KiB per idle socket", kib <= 20, f"{kib} KiB"),
        line(
            "vote storm, every socket exact",
            result["exact_sockets"] == n and result["storm_errors"] == 0,
            f"{result['storm_rate']:,} votes/s, {result['exact_sockets']:,} sockets exact",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000,10000")
    parser.add_argument("--procs", type=int, default=1, help="client processes")
    parser.add_argument("--database-url", default=os.environ.get("FESTIVAL_BENCH_DATABASE_URL"))
    parser.add_argument("--redis", default=os.environ.get("FESTIVAL_BENCH_REDIS_URL"))
    parser.add_argument("--limit", type=int, default=3000, help="hard limit in seconds")
    parser.add_argument("--clients", choices=("light", "ordinary"), default="light")
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds (ordinary clients)")
    args = parser.parse_args(argv)
    raise_fd_limit()
    # A `timeout` or Ctrl-C still runs the finally blocks that stop our servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    faulthandler.dump_traceback_later(args.limit, exit=True)
    with tempfile.TemporaryDirectory(prefix="festival-bench-") as tmp:
        judged: list[str] = []
        if args.clients == "ordinary":
            from bench import ws_ordinary

            for i, n in enumerate(int(s) for s in args.sizes.split(",")):
                result = ws_ordinary.run_size(n, 10 + i, Path(tmp), args.database_url, args.rounds)
                print(json.dumps(result), flush=True)
                judged += ws_ordinary.verdicts(result)
            print("\n".join(judged))
            return 0
        for i, n in enumerate(int(s) for s in args.sizes.split(",")):
            result = run_size(n, args.procs, 10 + i, Path(tmp), args.database_url)
            print(json.dumps(result), flush=True)
            judged += verdicts(result)
        if args.redis:
            print(
                json.dumps({"redis": redis_cross(args.redis, 2, Path(tmp), args.database_url, 200)})
            )
    print("\n".join(judged))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
