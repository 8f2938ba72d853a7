"""Live fan-out as ordinary clients see it: `websockets.asyncio.client`, a reader task each.

The light clients of `bench.ws_clients` keep their own cost out of the way of
the server under test. People run browsers and the `websockets` library, whose
clients take a task and a turn of the loop for every frame; on 2 shared cores
that CPU is taken from the server, and every extra millisecond the server
spends, or extra frame it sends, shows up in everybody's latency. So this mode
measures with N such clients in one (plain asyncio) client process:

- ours: the session is pre-moderated; an attendee asks a question (only the
  moderators hear of it), then the moderator approves it and the clock starts
  at the approve; the question's `question.updated` reaching each socket is
  its arrival. One warm-up round, then ``--rounds`` timed ones.
- raw: a bare `websockets` server (`bench.ws_raw_server`) that `broadcast()`s a
  copy of our own frame (same size, a new marker) to the same N clients, in
  the same run, the clock starting when the trigger is sent.

For each: p50 and p99 over every arrival, the time until the first and the
last socket had the frame (median over the rounds), how many frames each
socket received per round (from just before the approve until 0.3 s after
the last arrival), the server's CPU per round in the same window (from
/proc; median and mean: the keepalive pings come in bursts where sockets
opened in one, and a median can step over them), memory per idle socket,
the server's CPU per second while the sockets only keep alive (over one
whole 20 s ping period), and whether every socket got every frame. Then,
for ours, 10 s of people coming (5 a second for 5 s) and going (as many, as
fast), with no question: the frames each socket got and the server's CPU
per second meanwhile.
Run: `.venv/bin/python -m bench.ws_ordinary [--sizes 1000,5000,10000] [--rounds 20]`
(the same as `python -m bench.ws_fanout --clients ordinary`). To profile the
servers during the rounds: ``BENCH_PYSPY=path/to/py-spy`` (Python stacks, to
``BENCH_PYSPY_OUT-ours.txt`` and ``-raw.txt``) or ``BENCH_PERF=/tmp/prefix``
(``perf record``, native and kernel frames too).
Only 127.0.0.0/8 is touched; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection as SyncConnection
from websockets.sync.client import connect as sync_connect

from bench import ws_setup

ROUNDS = 20
WARMUP = 1
SOCKETS_PER_TOKEN = 4  # the live limits allow 5 per attendee token
AFTER = 0.3  # seconds a round goes on after the last arrival: late frames count too
# Then people come and go with no question: one joins every CHURN_EVERY seconds
# for half of CHURN_SECONDS, then they leave at the same pace (at most 40: the
# askers' tokens); the frames each socket gets meanwhile are what presence costs
# the room.
CHURN_SECONDS = 10.0
CHURN_EVERY = 0.2
KEEPALIVE = 20  # seconds between pings, each way: both servers' and the clients' default
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", KEEPALIVE))
MARK = "\x00marker\x00"  # where our frame's marker goes in the raw server's copy


# The client process.


class Crowd:
    """N ordinary clients, each with the library's own reader task."""

    def __init__(self, local_ip: str) -> None:
        self.local_ip = local_ip
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.marker = ""
        self.arrived: list[float | None] = []
        self.frames: list[int] = []
        self.got = 0
        self.sample = ""

    async def connect(self, urls: list[str], spread: float = 0.0) -> tuple[int, int]:
        """Open a socket to each of ``urls``, 64 at a time, the i-th no sooner than
        ``spread`` x i / N seconds from now; (opened, failed)."""
        gate = asyncio.Semaphore(64)
        failed = 0
        start = time.monotonic()

        async def one(i: int, url: str) -> None:
            nonlocal failed
            await asyncio.sleep(max(0.0, start + spread * i / len(urls) - time.monotonic()))
            async with gate:
                try:
                    ws = await connect(
                        url, local_addr=(self.local_ip, 0), open_timeout=300, max_size=2**20
                    )
                except Exception:
                    failed += 1
                    return
            index = len(self.sockets)
            self.sockets.append(ws)
            self.arrived.append(None)
            self.frames.append(0)
            self.readers.append(asyncio.create_task(self._read(index, ws)))

        await asyncio.gather(*(one(i, url) for i, url in enumerate(urls)))
        # The sockets live until the end: out of every full collection from now on.
        gc.collect()
        gc.freeze()
        return len(self.sockets), failed

    async def _read(self, index: int, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                self.frames[index] += 1
                if self.marker and self.arrived[index] is None and self.marker in str(message):
                    self.arrived[index] = time.monotonic()
                    self.got += 1
                    if not self.sample:
                        self.sample = str(message)
        except ConnectionClosed:
            pass

    def expect(self, marker: str) -> None:
        """Get ready for a round. A full collection of the client's own heap (60 ms
        here at 1,000 sockets) would otherwise fall in a timed round now and then,
        in ours or in raw's by chance, and take 5% of a round's arrivals past p99;
        collected now, between rounds, it falls in neither."""
        gc.collect()
        n = len(self.sockets)
        self.marker, self.got, self.sample = marker, 0, ""
        self.arrived, self.frames = [None] * n, [0] * n

    async def arrivals(self, limit: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + limit
        while self.got < len(self.sockets) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        await asyncio.sleep(AFTER)
        self.marker = ""
        return {
            "arrivals": [t for t in self.arrived if t is not None],
            "missing": sum(t is None for t in self.arrived),
            "frames": dict(Counter(self.frames)),
            "sample": self.sample,
        }

    async def close_all(self) -> None:
        gate = asyncio.Semaphore(256)

        async def one(ws: ClientConnection) -> None:
            async with gate:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 10)

        await asyncio.gather(*(one(ws) for ws in self.sockets))
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        self.sockets, self.readers, self.arrived, self.frames = [], [], [], []


async def _serve(conn: Connection, local_ip: str) -> None:
    loop = asyncio.get_running_loop()
    crowd = Crowd(local_ip)
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        name, args = command[0], command[1:]
        if name == "exit":
            await crowd.close_all()
            return
        if name == "connect":
            pairs, spread = args[0]
            conn.send(await crowd.connect([url for _, url in pairs], spread))
        elif name == "expect":
            crowd.expect(args[0])
            conn.send(True)
        elif name == "arrivals":
            conn.send(await crowd.arrivals())
        elif name == "tally":
            conn.send(dict(Counter(crowd.frames)))
        elif name == "close_all":
            await crowd.close_all()
            conn.send(True)


def client_main(conn: Connection, local_ip: str) -> None:
    """A client process: plain asyncio, as a script using the library would run."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_serve(conn, local_ip))


# The driver.


def cpu_ms(pid: int) -> float:
    """CPU time of process ``pid`` so far, every thread of it (the database's too), in ms.

    From the scheduler's own nanosecond accounting: /proc's user and system
    times count in ticks of 10 ms, as long as a whole round at 1,000 sockets.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that just ended
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e6


def idle_cpu(pid: int, seconds: float = IDLE_SECONDS) -> float:
    """The server's CPU per second while its sockets only keep alive (pings both ways).

    Both ends ping each socket every 20 s from the moment it opened, so a window
    of one whole period holds one ping each way per socket, however the opening
    of the sockets was spread (ours take longer to open: each join reads the
    database). Any shorter window could fall between two servers' bursts.
    """
    cpu = cpu_ms(pid)
    time.sleep(seconds)
    return round((cpu_ms(pid) - cpu) / seconds, 1)


def profiler(pid: int, side: str) -> subprocess.Popen[bytes] | None:
    """py-spy on a server (``side``: ours or raw) for the timed rounds, when BENCH_PYSPY
    names its binary (collapsed stacks to BENCH_PYSPY_OUT-side); None otherwise."""
    if os.environ.get("BENCH_PERF"):  # native and kernel frames too: perf's own clock
        out = os.environ["BENCH_PERF"] + f"-{side}.data"
        command = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-g"]
        return subprocess.Popen([*command, "-o", out, "-p", str(pid)], stdout=subprocess.DEVNULL)
    exe = os.environ.get("BENCH_PYSPY")
    if not exe:
        return None
    out = os.environ.get("BENCH_PYSPY_OUT", f"/tmp/festival-pyspy-{pid}") + f"-{side}.txt"
    command = [exe, "record", "-p", str(pid), "-o", out, "-f", "raw", "--nonblocking"]
    return subprocess.Popen([*command, "-r", "250"], stdout=subprocess.DEVNULL)


def _until(conn: SyncConnection, frame_id: str, limit: float = 30) -> dict[str, Any]:
    """Read ``conn`` until the ack or error of ``frame_id``; that frame."""
    deadline = time.monotonic() + limit
    while True:
        frame = json.loads(conn.recv(timeout=max(0.01, deadline - time.monotonic())))
        if frame.get("id") == frame_id and frame["type"] in ("ack", "error"):
            if frame["type"] == "error":
                raise RuntimeError(f"{frame_id}: {frame}")
            return dict(frame)


class Stage:
    """The askers and the moderator of the timed rounds.

    The moderator stays; each question comes from an attendee who joins, asks
    and leaves (a socket of its own, opened for the question), as people come
    and go during a session: the live room's count changes each round, as it
    would.
    """

    def __init__(self, port: int, setup: ws_setup.Setup) -> None:
        self.port, self.setup = port, setup
        self.moderator = sync_connect(setup.ws_url(port, setup.moderator), max_queue=None)
        self.next = 0

    def ask(self, marker: str) -> str:
        """Ask a question (held for moderation); its id once the ask is committed."""
        raw = self.setup.askers[self.next % len(self.setup.askers)]
        self.next += 1
        with sync_connect(self.setup.ws_url(self.port, raw), max_queue=None) as conn:
            frame = {"type": "question.ask", "id": marker, "data": {"text": f"{marker} padding?"}}
            conn.send(json.dumps(frame))
            return str(_until(conn, marker)["data"]["question"]["id"])

    def churn(self, seconds: float, every: float) -> int:
        """People arrive, one every ``every`` seconds for half of ``seconds``, then leave
        at the same pace, as at the start and end of a talk; how many came."""
        came: list[SyncConnection] = []
        start, steps = time.monotonic(), int(seconds / 2 / every)
        for step in range(2 * steps):
            if step < steps:
                raw = self.setup.askers[step % len(self.setup.askers)]
                conn = sync_connect(self.setup.ws_url(self.port, raw), max_queue=None)
                conn.recv(timeout=30)  # the snapshot: joined
                came.append(conn)
            else:
                came.pop().close()
            time.sleep(max(0.0, start + (step + 1) * every - time.monotonic()))
        return steps

    def approve(self, question_id: str, marker: str) -> None:
        data = {"question_id": question_id, "action": "approve"}
        self.moderator.send(json.dumps({"type": "question.moderate", "id": marker, "data": data}))

    def approved(self, marker: str) -> None:
        _until(self.moderator, marker)

    def close(self) -> None:
        self.moderator.close()


def _churn(pool: Any, stage: Stage, pid: int) -> dict[str, Any]:
    """Frames each socket got, and the server's CPU, while people come and go."""
    pool.ask("expect", "")
    cpu, t0 = cpu_ms(pid), time.monotonic()
    joins = stage.churn(CHURN_SECONDS, CHURN_EVERY)
    time.sleep(AFTER)
    (frames,) = pool.ask("tally")
    seconds = time.monotonic() - t0
    total = sum(frames.values())
    mean = sum(k * v for k, v in frames.items()) / max(1, total)
    return {
        "joins": joins,
        "seconds": round(seconds, 1),
        "frames_per_socket": round(mean, 1),
        "cpu_ms_per_s": round((cpu_ms(pid) - cpu) / seconds, 1),
    }


def _summary(rounds: list[dict[str, Any]], t0s: list[float], cpus: list[float]) -> dict[str, Any]:
    lat: list[float] = []
    first: list[float] = []
    full: list[float] = []
    frames: Counter[int] = Counter()
    for reply, t0 in zip(rounds, t0s, strict=True):
        ms = [(t - t0) * 1000 for t in reply["arrivals"]]
        lat += ms
        first.append(min(ms) if ms else float("nan"))
        full.append(max(ms) if ms else float("nan"))
        frames.update({int(k): v for k, v in reply["frames"].items()})
    total = sum(frames.values())
    return {
        "p50_ms": round(_pct(lat, 0.5), 1),
        "p99_ms": round(_pct(lat, 0.99), 1),
        "all_ms": round(statistics.median(full), 1),
        # The first socket's arrival: what the server spends before the fan-out's
        # first write (ours: the approve's unit of work), plus one hop.
        "first_ms": round(statistics.median(first), 1),
        "rounds_all_ms": [round(ms) for ms in full],
        "missing": sum(r["missing"] for r in rounds),
        "frames_per_socket_round": dict(sorted(frames.items())),
        "frames_mean": round(sum(k * v for k, v in frames.items()) / max(1, total), 3),
        "cpu_ms_round": round(statistics.median(cpus), 1),
        # The mean as well: keepalive pings come in bursts where sockets opened in one.
        "cpu_ms_round_mean": round(statistics.fmean(cpus), 1),
    }


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run_size(n: int, base: int, tmp: Path, db_url: str | None, rounds: int) -> dict[str, Any]:
    """Ours then raw, for one N, with the same client process."""
    from bench.ws_fanout import Pool, _serve_ours, _serve_raw, _stop, log, rss_kib

    result: dict[str, Any] = {"n": n, "clients": "ordinary", "rounds": rounds}
    tokens = -(-n // SOCKETS_PER_TOKEN)
    setup = ws_setup.prepare(tmp / f"ordinary-{n}.db", db_url, tokens, 0, pre_moderated=True)
    port = ws_setup.free_port()
    loop = asyncio.new_event_loop()
    pool = Pool.start(1, base, client_main)
    sample = ""
    try:
        server = loop.run_until_complete(_serve_ours(setup.env, port))
        try:
            time.sleep(1.0)
            idle = rss_kib(server.pid)
            urls = [setup.ws_url(port, setup.tokens[i // SOCKETS_PER_TOKEN]) for i in range(n)]
            t0 = time.monotonic()
            (opened,) = pool.each("connect", [(p, 0.0) for p in pool.split(urls)], timeout=1200)
            result["connect_s"] = round(time.monotonic() - t0, 1)
            result["connected"] = opened[0]
            log(f"ordinary n={n}: {opened[0]} connected in {result['connect_s']} s")
            time.sleep(3.0)
            result["kib_per_socket"] = round((rss_kib(server.pid) - idle) / n, 1)
            stage = Stage(port, setup)
            time.sleep(2.0)  # the joins' presence count goes out before the timing
            replies, t0s, cpus = [], [], []
            spy = profiler(server.pid, "ours")
            for r in range(WARMUP + rounds):
                marker = f"bench-{r:03d}-{time.monotonic_ns()}"
                question = stage.ask(marker)
                pool.ask("expect", marker)
                cpu = cpu_ms(server.pid)
                t0 = time.monotonic()
                stage.approve(question, marker)
                (reply,) = pool.ask("arrivals", timeout=120)
                cpu = cpu_ms(server.pid) - cpu
                stage.approved(marker)
                sample = sample or reply["sample"].replace(marker, MARK)
                if r >= WARMUP:
                    replies.append(reply)
                    t0s.append(t0)
                    cpus.append(cpu)
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            result["idle_cpu_ms_per_s"] = idle_cpu(server.pid)
            result["churn"] = _churn(pool, stage, server.pid)
            log(f"ordinary n={n}: churn {result['churn']}")
            stage.close()
            result["ours"] = _summary(replies, t0s, cpus)
            result["frame_bytes"] = len(sample.replace(MARK, marker).encode())
            log(f"ordinary n={n}: ours {result['ours']}")
            pool.ask("close_all", timeout=600)
        finally:
            loop.run_until_complete(_stop(server))
        raw = loop.run_until_complete(_serve_raw(port))
        try:
            time.sleep(0.5)
            idle = rss_kib(raw.pid)
            # Opened over as long as ours took: both ends ping each socket every 20 s
            # from its opening, so the rounds of both meet the same keepalive traffic
            # (opened in a burst, raw's pings would come in bursts the rounds mostly miss).
            parts = pool.split([f"ws://127.0.0.1:{port}/"] * n)
            spread, t0 = result["connect_s"], time.monotonic()
            (opened,) = pool.each("connect", [(p, spread) for p in parts], 1200)
            result["raw_connect_s"] = round(time.monotonic() - t0, 1)
            result["raw_connected"] = opened[0]
            time.sleep(3.0)
            result["raw_kib_per_socket"] = round((rss_kib(raw.pid) - idle) / n, 1)
            trigger = ws_setup.RawTrigger(port)
            replies, t0s, cpus = [], [], []
            spy = profiler(raw.pid, "raw")
            for r in range(WARMUP + rounds):
                marker = f"bench-{r:03d}-{time.monotonic_ns()}"
                pool.ask("expect", marker)
                cpu = cpu_ms(raw.pid)
                t0 = time.monotonic()
                trigger.send("copy:" + sample.replace(MARK, marker))
                (reply,) = pool.ask("arrivals", timeout=120)
                cpu = cpu_ms(raw.pid) - cpu
                if r >= WARMUP:
                    replies.append(reply)
                    t0s.append(t0)
                    cpus.append(cpu)
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            trigger.close()
            result["raw_idle_cpu_ms_per_s"] = idle_cpu(raw.pid)
            result["raw"] = _summary(replies, t0s, cpus)
            log(f"ordinary n={n}: raw {result['raw']}")
            pool.ask("close_all", timeout=600)
        finally:
            loop.run_until_complete(_stop(raw))
    finally:
        pool.stop()
        loop.close()
    ours, raw_ = result["ours"], result["raw"]
    result["ratio_p50"] = round(raw_["p50_ms"] / ours["p50_ms"], 2)
    result["ratio_p99"] = round(raw_["p99_ms"] / ours["p99_ms"], 2)
    result["ratio_all"] = round(raw_["all_ms"] / ours["all_ms"], 2)
    return result


def verdicts(result: dict[str, Any]) -> list[str]:
    """One line per target of issue 18 for one N: met or not in this run."""
    n, ours, raw = result["n"], result["ours"], result["raw"]

    def line(target: str, met: bool, figure: str) -> str:
        return f"N={n:,} (ordinary clients): {target}: {'met' if met else 'NOT met'} ({figure})"

    every = result["connected"] == n and ours["missing"] == 0 and raw["missing"] == 0
    kib = result["kib_per_socket"]
    return [
        line(
            "raw/ours p50 >= 0.8",
            result["ratio_p50"] >= 0.8,
            f"{result['ratio_p50']:.2f}: ours {ours['p50_ms']:.0f} ms, raw {raw['p50_ms']:.0f}",
        ),
        line(
            "raw/ours p99 >= 0.8",
            result["ratio_p99"] >= 0.8,
            f"{result['ratio_p99']:.2f}: ours {ours['p99_ms']:.0f} ms, raw {raw['p99_ms']:.0f}",
        ),
        line(
            "every socket gets every frame",
            every,
            f"{result['connected']:,} connected, {ours['missing']} arrivals missing "
            f"(raw {raw['missing']}); frames per socket per round {ours['frames_mean']}",
        ),
        line("<= 16 KiB per idle socket", kib <= 16, f"{kib} KiB"),
    ]


def main() -> int:
    from bench import ws_fanout

    return ws_fanout.main(["--clients", "ordinary", *sys.argv[1:]])


if __name__ == "__main__":
    raise SystemExit(main())
