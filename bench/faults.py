"""How long live delivery stops when a dependency fails: the faults of tests/faults, timed.

Two `festival serve` nodes on a PostgreSQL and a Redis of their own (the fault
suite's cluster, `tests/faults/cluster.py`). A moderator on one node edits a
question every 50 ms ("probe 1", "probe 2", ...); an attendee's socket on the
other node notes when each new text shows (an event, or a reset snapshot). The
interruption of a fault is the longest wait between two new texts on that
screen, around the fault; normal is the probe period plus a delivery. For the
PostgreSQL restart a registration stream on both nodes is timed the same way.

Faults, one after another on the same cluster: Redis restarted without
persistence; Redis restarted from a snapshot taken just before (numbers rolled
back); Redis paused (SIGSTOP) for 6 s; PostgreSQL restarted (fast shutdown);
the attendee's node SIGKILLed (its socket resumes on the other node at once,
where the pages would first wait a random 0 to 0.5 s).

Run: `.venv/bin/python -m bench.faults [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import platform
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from websockets.exceptions import ConnectionClosed

from tests.factories.festival import auth
from tests.factories.realtime import live_session
from tests.factories.tickets import open_festival, running_now
from tests.faults.cluster import Cluster, running_cluster
from tests.realtime.clients import LiveClient
from tests.realtime.nodes import Node

PERIOD = 0.05


@dataclass
class Screen:
    """The attendee's socket: when each new text of the probe question showed."""

    question: str
    shown: list[tuple[float, str]] = field(default_factory=list)
    reconnects: int = 0

    def note(self, view: dict[str, object]) -> None:
        if view.get("id") == self.question:
            text = str(view["text"])
            if not self.shown or self.shown[-1][1] != text:
                self.shown.append((time.monotonic(), text))

    async def watch(self, client: LiveClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                frame = json.loads(await asyncio.wait_for(client.ws.recv(), 0.5))
            except TimeoutError:
                continue
            if "seq" in frame:
                client.events.append(frame)
            if frame.get("type") == "snapshot":
                for view in frame["data"]["questions"]:
                    self.note(view)
            elif frame.get("type") in ("question.added", "question.updated"):
                self.note(frame["data"])

    def gap(self, start: float, end: float) -> float:
        """The longest wait between new texts shown from ``start`` to ``end``."""
        times = [t for t, _ in self.shown if start <= t <= end]
        if len(times) < 2:
            return end - start
        return max(b - a for a, b in itertools.pairwise(times))


async def _prober(moderator: LiveClient, qid: str, stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        frame_id = await moderator.send(
            "question.moderate", {"question_id": qid, "action": "edit", "text": f"probe {n}"}
        )
        with contextlib.suppress(TimeoutError, ConnectionClosed):
            while frame_id not in moderator.replies:
                await asyncio.wait_for(moderator.read(), 10)
        moderator.replies.pop(frame_id, None)
        moderator.events.clear()
        await asyncio.sleep(PERIOD)


async def _registrations(node: Node, slug: str, stop: asyncio.Event) -> list[float]:
    """Register until ``stop``; when each 201 came."""
    done: list[float] = []
    async with httpx.AsyncClient(base_url=node.url, timeout=60) as http:
        while not stop.is_set():
            body = {"name": "Bench", "email": f"b-{uuid.uuid4().hex[:12]}@example.org"}
            try:
                reply = await http.post(f"/api/v1/festivals/{slug}/registrations", json=body)
            except httpx.TransportError:
                reply = None
            if reply is not None and reply.status_code == 201:
                done.append(time.monotonic())
            else:
                await asyncio.sleep(0.05)
    return done


async def _ready(node: Node) -> None:
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        for _ in range(600):
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.05)


Fault = Callable[[Cluster], Awaitable[None]]


async def _redis_restart(cluster: Cluster) -> None:
    await cluster.redis.restart(persistent=False)


async def _redis_rollback(cluster: Cluster) -> None:
    await cluster.redis.save()
    await asyncio.sleep(0.5)  # events numbered after the snapshot, which Redis will forget
    await cluster.redis.restart(persistent=True)


async def _redis_pause(cluster: Cluster) -> None:
    cluster.redis.pause()
    await asyncio.sleep(6.0)
    cluster.redis.resume()


async def _postgres_restart(cluster: Cluster) -> None:
    await cluster.restart_postgres()


FAULTS: dict[str, Fault] = {
    "Redis restart, no persistence": _redis_restart,
    "Redis restart from an older snapshot": _redis_rollback,
    "Redis paused 6 s (SIGSTOP)": _redis_pause,
    "PostgreSQL restart (fast shutdown)": _postgres_restart,
}


async def _round(cluster: Cluster, name: str, fault: Fault | None) -> dict[str, float]:
    """One fault with the probe running; the interruption, and what the fault itself took."""
    a, b = cluster.nodes
    live = await live_session(cluster.engine)
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as http:
        await http.patch(
            f"/api/v1/sessions/{live.session_id}/live",
            json={"pre_moderation": False},
            headers=auth(live.organiser_token),
        )
        made, _organiser = await open_festival(
            http, cluster.engine, capacity=100_000, **running_now()
        )
    killing = fault is None
    # The attendee watches from the node the fault hits when it is a node.
    probe_node, screen_node = (b, a) if killing else (a, b)
    moderator = await LiveClient.open(probe_node.ws_url, live.session_id, await live.moderator())
    asker = await LiveClient.open(probe_node.ws_url, live.session_id, await live.attendee())
    qid = (await asker.ok("question.ask", {"text": "probe 0"}))["question"]["id"]
    await asker.close()
    attendee = await live.attendee("Watcher")
    client = await LiveClient.open(screen_node.ws_url, live.session_id, attendee)
    screen = Screen(qid)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(screen.watch(client, stop)),
        asyncio.create_task(_prober(moderator, qid, stop)),
    ]
    registrars = [asyncio.create_task(_registrations(n, made["slug"], stop)) for n in (a, b)]
    await asyncio.sleep(1.5)
    began = time.monotonic()
    if killing:
        screen_node.process.kill()
        await screen_node.process.wait()
        tasks[0].cancel()
        since = int(client.events[-1]["seq"]) if client.events else None
        client = await LiveClient.open(probe_node.ws_url, live.session_id, attendee, since=since)
        screen.reconnects += 1
        tasks[0] = asyncio.create_task(screen.watch(client, stop))
    else:
        assert fault is not None
        await fault(cluster)
        await asyncio.gather(_ready(a), _ready(b))
    ended = time.monotonic()
    await asyncio.sleep(3.0)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    done = sorted(t for r in await asyncio.gather(*registrars) for t in r)
    await moderator.close()
    with contextlib.suppress(ConnectionClosed):
        await client.close()
    if killing:
        await cluster.restart_node(0)
    window = (began - 1.0, ended + 3.0)
    reg = [t for t in done if window[0] <= t <= window[1]]
    reg_gap = max((y - x for x, y in itertools.pairwise(reg)), default=0.0)
    return {
        "live": screen.gap(*window),
        "fault": ended - began,
        "registrations": reg_gap,
        "normal": screen.gap(began - 1.4, began - 0.1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"bench.faults, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"python {platform.python_version()}, rounds {args.rounds}, "
        f"probe every {PERIOD * 1000:.0f} ms"
    )
    faults: dict[str, Fault | None] = {
        **FAULTS,
        "Node SIGKILLed, socket resumes on the other": None,
    }
    async with running_cluster() as cluster:
        rows = []
        for name, fault in faults.items():
            runs = [await _round(cluster, name, fault) for _ in range(args.rounds)]
            rows.append((name, runs))
            print(f"  {name}: {[round(r['live'] * 1000) for r in runs]} ms", flush=True)
    print()
    print(
        "| fault | fault lasts (s) | live delivery stops (ms), median [max] "
        "| registrations stop (ms), median | normal gap (ms) |"
    )
    print("|---|---|---|---|---|")
    for name, runs in rows:
        live = [r["live"] * 1000 for r in runs]
        print(
            f"| {name} | {statistics.median(r['fault'] for r in runs):.1f} "
            f"| {statistics.median(live):.0f} [{max(live):.0f}] "
            f"| {statistics.median(r['registrations'] * 1000 for r in runs):.0f} "
            f"| {statistics.median(r['normal'] * 1000 for r in runs):.0f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
