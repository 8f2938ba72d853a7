"""Client processes of bench.ws_fanout: many real websocket clients, driven over a pipe.

Each socket runs the `websockets` library's own client protocol (its sans-I/O
``ClientProtocol``: the handshake, framing, masking, pings, the closing
handshake) under an asyncio ``Protocol`` on uvloop, with no task per socket:
a frame is read in the ``data_received`` callback that brings its bytes. With
a reading task per socket (the library's asyncio client), the clients' own
scheduling took more CPU than the server under test on these 2 cores, and the
fan-out figures measured the clients.

During a timed round the clients only note each chunk's arrival time and keep
its bytes, with the cyclic garbage collector off; the frames are parsed once
every socket has heard something, and a frame's arrival is the time its last
chunk came in. Parsing a frame (the library's parser, then the text) costs
the client about what the server's write of it costs the server (~13 us), so
parsing as they came in took the core the server's writes could use, and a
collection over 10,000 sockets' objects could land in a round. Now the client
spends 80 to 125 ms of CPU in a round at 10,000. Outside the rounds, frames
are parsed as they come. Every server of a run, ours and the baselines, is
measured by these same clients.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import time
from multiprocessing.connection import Connection
from typing import Any, cast

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri


class Peer(asyncio.Protocol):
    """One client socket: the library's protocol, fed by this transport's callbacks."""

    def __init__(self, clients: Clients, index: int, url: str, snapshot: bool) -> None:
        self.clients, self.index = clients, index
        self.protocol = ClientProtocol(parse_uri(url), max_size=2**20)
        self.transport: asyncio.Transport | None = None
        self.counts: dict[str, int] = {}
        self.parts: list[bytes] = []  # a fragmented message, until its last frame
        # Set once the socket is open (and, when asked for, its first frame read).
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.snapshot = snapshot
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.heard = 0  # the last timed round in which this socket received bytes

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.protocol.send_request(self.protocol.connect())
        self.flush()

    def data_received(self, data: bytes) -> None:
        clients = self.clients
        if clients.recording:
            clients.pending.append((self, time.monotonic(), data))
            if self.heard != clients.round:
                self.heard = clients.round
                clients.heard += 1
        else:
            self.feed(data, time.monotonic())

    def feed(self, data: bytes, at: float) -> None:
        """Parse ``data``, which arrived at ``at``, and act on its frames."""
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                if self.protocol.state is not State.OPEN:
                    self._ready(False)
                elif not self.snapshot:
                    self._ready(True)
            elif isinstance(event, Frame):
                self.frame(event, at)
        self.flush()

    def frame(self, frame: Frame, at: float) -> None:
        if frame.opcode is Opcode.TEXT or (frame.opcode is Opcode.CONT and self.parts):
            self.parts.append(bytes(frame.data))
            if frame.fin:
                text = b"".join(self.parts).decode()
                self.parts = []
                self.clients.received(self, text, at)
                self._ready(True)

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        self.flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._ready(False)
        if not self.gone.done():
            self.gone.set_result(None)
        code = str(self.protocol.close_code)
        self.clients.closes[code] = self.clients.closes.get(code, 0) + 1

    def flush(self) -> None:
        """Write what the protocol has to send; an empty chunk means: close the TCP side."""
        assert self.transport is not None
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()

    def send(self, text: str) -> None:
        if self.protocol.state is State.OPEN:
            self.protocol.send_text(text.encode())
            self.flush()

    async def close(self) -> None:
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(1000)
            self.flush()
        try:
            await asyncio.wait_for(asyncio.shield(self.gone), 10)
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()

    def _ready(self, ok: bool) -> None:
        if not self.ready.done():
            self.ready.set_result(ok)


class Clients:
    def __init__(self, local_ip: str) -> None:
        self.local_ip = local_ip
        self.peers: list[Peer] = []
        self.marker = ""
        self.arrivals: list[float] = []
        # A timed round: chunks kept unparsed with their arrival times, and how
        # many sockets have received any.
        self.recording = False
        self.round = 0
        self.heard = 0
        self.pending: list[tuple[Peer, float, bytes]] = []
        self.acks = 0
        self.errors = 0
        self.closes: dict[str, int] = {}
        # Every socket of a process gets the same count frames: parse each text once.
        self.parsed: dict[str, dict[str, int]] = {}

    async def connect(self, share: list[tuple[int, str]], snapshot: bool) -> tuple[int, int]:
        gate = asyncio.Semaphore(64)
        loop = asyncio.get_running_loop()
        failed = 0

        async def one(index: int, url: str) -> None:
            nonlocal failed
            uri = parse_uri(url)
            peer = Peer(self, index, url, snapshot)
            async with gate:
                try:
                    await loop.create_connection(
                        lambda: peer, uri.host, uri.port, local_addr=(self.local_ip, 0)
                    )
                    opened = await asyncio.wait_for(asyncio.shield(peer.ready), 300)
                except (OSError, TimeoutError):
                    opened = False
            if not opened:
                failed += 1
                if peer.transport is not None:
                    peer.transport.abort()
                return
            self.peers.append(peer)

        await asyncio.gather(*(one(i, url) for i, url in share))
        return len(self.peers), failed

    def received(self, peer: Peer, text: str, at: float) -> None:
        if self.marker and self.marker in text:
            self.arrivals.append(at)
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

    def expect(self, marker: str) -> None:
        """Start a timed round: keep what arrives unparsed until every socket has heard."""
        self.marker, self.arrivals = marker, []
        self.round += 1
        self.heard, self.pending, self.recording = 0, [], True
        gc.disable()

    async def wait_arrivals(self, limit: float = 30) -> list[float]:
        deadline = time.monotonic() + limit
        while self.heard < len(self.peers) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        # Parse in arrival order; a socket whose first bytes were another frame
        # gets the question later, parsed (and timed) as it comes.
        self.recording = False
        pending, self.pending = self.pending, []
        for peer, at, data in pending:
            peer.feed(data, at)
        gc.enable()
        while len(self.arrivals) < len(self.peers) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        self.marker = ""
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
                peer.send(json.dumps(frame))
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
        gate = asyncio.Semaphore(256)

        async def gated(peer: Peer) -> None:
            async with gate:
                await peer.close()

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
            clients.expect(args[0])
            conn.send(True)
        elif name == "arrivals":
            conn.send(await clients.wait_arrivals())
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
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(conn, local_ip))
    else:
        uvloop.run(serve(conn, local_ip))
