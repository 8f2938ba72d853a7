"""Client processes of bench.ws_fanout: many real `websockets` clients, driven over a pipe."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import time
from multiprocessing.connection import Connection
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


class Peer:
    __slots__ = ("counts", "index", "reader", "ws")

    def __init__(self, index: int, ws: ClientConnection) -> None:
        self.index, self.ws = index, ws
        self.counts: dict[str, int] = {}
        self.reader: asyncio.Task[None] | None = None


class Clients:
    def __init__(self, local_ip: str) -> None:
        self.local_ip = local_ip
        self.peers: list[Peer] = []
        self.marker = ""
        self.arrivals: list[float] = []
        self.acks = 0
        self.errors = 0
        self.closes: dict[str, int] = {}
        # Every socket of a process gets the same count frames: parse each text once.
        self.parsed: dict[str, dict[str, int]] = {}

    async def connect(self, share: list[tuple[int, str]], snapshot: bool) -> tuple[int, int]:
        gate = asyncio.Semaphore(64)
        failed = 0

        async def one(index: int, url: str) -> None:
            nonlocal failed
            async with gate:
                try:
                    ws = await connect(
                        url,
                        local_addr=(self.local_ip, 0),
                        open_timeout=120,
                        max_size=2**20,
                        ping_interval=None,
                        compression=None,
                    )
                except Exception:
                    failed += 1
                    return
            peer = Peer(index, ws)
            if snapshot:  # measure only once every socket has its first frame
                with contextlib.suppress(Exception):
                    first = await asyncio.wait_for(ws.recv(), 300)
                    questions = json.loads(first)["data"]["questions"]
                    peer.counts.update({q["id"]: q["votes"] for q in questions})
            peer.reader = asyncio.create_task(self.read(peer))
            self.peers.append(peer)

        await asyncio.gather(*(one(i, url) for i, url in share))
        return len(self.peers), failed

    async def read(self, peer: Peer) -> None:
        with contextlib.suppress(Exception):
            async for message in peer.ws:
                text = message if isinstance(message, str) else message.decode()
                if self.marker and self.marker in text:
                    self.arrivals.append(time.monotonic())
                elif text.startswith('{"type":"question.votes"'):
                    counts = self.parsed.get(text)
                    if counts is None:
                        counts = self.parsed[text] = json.loads(text)["data"]["counts"]
                    peer.counts.update(counts)
                elif text.startswith('{"type":"ack"'):
                    self.acks += 1
                elif text.startswith('{"type":"error"'):
                    self.errors += 1
                elif text.startswith('{"type":"snapshot"'):
                    questions = json.loads(text)["data"]["questions"]
                    peer.counts.update({q["id"]: q["votes"] for q in questions})
        code = str(peer.ws.close_code)
        self.closes[code] = self.closes.get(code, 0) + 1

    async def wait_arrivals(self, limit: float = 30) -> list[float]:
        deadline = time.monotonic() + limit
        # Polling keeps the reader loop free of per-frame bookkeeping.
        while len(self.arrivals) < len(self.peers) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return list(self.arrivals)

    async def storm(self, plan: dict[str, Any], voters: int) -> tuple[int, int]:
        """Each voter sends ``votes_each`` up-votes, spread evenly over ``seconds``."""
        questions: list[str] = plan["questions"]
        mine = [p for p in self.peers if p.index < voters]
        each, seconds = int(plan["votes_each"]), float(plan["seconds"])
        total = len(mine) * each
        self.acks = self.errors = 0
        self.parsed.clear()
        sent, start = 0, time.monotonic()
        while sent < total:
            due = min(total, int(total * (time.monotonic() - start) / seconds) + 1)
            while sent < due:
                peer = mine[sent % len(mine)]
                k = sent // len(mine)
                frame = {
                    "type": "question.vote",
                    "id": sent,
                    "data": {"question_id": questions[k % len(questions)], "up": True},
                }
                with contextlib.suppress(Exception):
                    await peer.ws.send(json.dumps(frame))
                sent += 1
            await asyncio.sleep(0.005)
        deadline = time.monotonic() + 120
        while self.acks + self.errors < total and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return self.acks, self.errors

    async def converge(self, truth: dict[str, int], limit: float) -> tuple[int, float]:
        """How many sockets hold exactly the database's counts, and how long that took."""
        start = time.monotonic()

        def exact() -> int:
            return sum(all(p.counts.get(q) == n for q, n in truth.items()) for p in self.peers)

        while exact() < len(self.peers) and time.monotonic() - start < limit:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return exact(), time.monotonic() - start

    async def close_all(self) -> None:
        async def one(peer: Peer) -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(peer.ws.close(), 10)
            if peer.reader is not None:
                peer.reader.cancel()

        gate = asyncio.Semaphore(256)

        async def gated(peer: Peer) -> None:
            async with gate:
                await one(peer)

        await asyncio.gather(*(gated(p) for p in self.peers))
        self.peers = []


async def serve(conn: Connection, local_ip: str) -> None:
    loop = asyncio.get_running_loop()
    clients = Clients(local_ip)
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        name, args = command[0], command[1:]
        if name == "exit":
            await clients.close_all()
            return
        if name == "connect":
            conn.send(await clients.connect(args[0], "/ws/sessions/" in args[0][0][1]))
        elif name == "expect":
            clients.marker, clients.arrivals = args[0], []
            conn.send(True)
        elif name == "arrivals":
            conn.send(await clients.wait_arrivals())
            clients.marker = ""
        elif name == "storm":
            conn.send(await clients.storm(args[0], args[1]))
        elif name == "closes":
            conn.send(dict(clients.closes))
        elif name == "converge":
            conn.send(await clients.converge(args[0], args[1]))
        elif name == "close_all":
            await clients.close_all()
            conn.send(True)


def client_main(conn: Connection, local_ip: str) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(serve(conn, local_ip))
