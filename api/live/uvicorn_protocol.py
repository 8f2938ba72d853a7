"""The websocket protocol ``festival serve`` gives uvicorn: its websockets-sansio one, leaner.

A live session holds thousands of sockets for hours, and writes each event to
all of them at once. This subclass of uvicorn's protocol changes these things:

- Memory. What the app has yet to receive waits in a list with one future,
  and the flow-control flag is a small gate, instead of an ``asyncio.Queue``
  and an ``asyncio.Event`` (five deques between them, held by every idle
  socket); the handshake's request and response, with their headers, are let
  go once the socket is accepted.
- Fan-out. The ``festival.send_now`` ASGI extension writes a text frame at
  once, with no coroutine, when the socket can take it (accepted, open, not
  paused by flow control); otherwise it says no and the app falls back to
  ``websocket.send``, which waits. A server frame is unmasked, so the bytes
  are the same for every socket: a fan-out hands each socket the same ``str``
  and the frame is built once.
- The direct path. While a plain (not TLS) socket is open, writable and has
  nothing buffered, ``send_now`` writes to its descriptor at once, reading one
  attribute (``direct``) where the full check and the transport's write read
  some eight objects, each a likely cache miss when thousands of sockets take
  one fan-out (bench/RESULTS.md has what it saved). ``direct`` is kept
  true by recomputing it wherever the state can change: every write
  uvicorn's own code makes goes through :class:`Watched`, and flow control,
  incoming frames and the connection's loss re-arm or disarm it. A short or
  refused write hands the rest to the transport and disarms it, so bytes never
  overtake bytes the transport still holds.
- Nothing else: the handshake, pings, closing and flow control are uvicorn's.
"""

from __future__ import annotations

import asyncio
import os
from functools import lru_cache
from typing import Any

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.config import Config
from uvicorn.protocols.utils import is_ssl
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State

SEND_NOW = "festival.send_now"
OPEN = State.OPEN
_write = os.write

# The uvicorn releases this subclass is written and tested against; pyproject.toml
# pins the same range. It reads and replaces these parts of the parent's state, and
# overrides these of its methods: tests/realtime/test_ws_protocol.py checks that the
# installed uvicorn still has each, and names the version if one is gone.
UVICORN_RANGE = ">=0.53,<0.56"
PARENT_STATE = (
    "queue",
    "writable",
    "transport",
    "conn",
    "close_sent",
    "disconnected",
    "handshake_complete",
    "read_paused",
    "loop",
    "scope",
    "request",
    "response",
)
PARENT_METHODS = (
    "connection_made",
    "connection_lost",
    "data_received",
    "pause_writing",
    "resume_writing",
    "handle_connect",
    "send",
    "receive",
)


class Inbox:
    """The part of ``asyncio.Queue`` uvicorn's protocol uses, and the one reader's waiter."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: list[ASGIReceiveEvent] = []
        self.waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: ASGIReceiveEvent) -> None:
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def empty(self) -> bool:
        return not self.items


class Gate:
    """The part of ``asyncio.Event`` uvicorn's protocol uses for flow control."""

    __slots__ = ("is_open", "waiters")

    def __init__(self) -> None:
        self.is_open = True
        self.waiters: list[asyncio.Future[None]] = []

    def set(self) -> None:
        self.is_open = True
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self.is_open = False

    async def wait(self) -> None:
        while not self.is_open:
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            await waiter


class Watched:
    """The transport as uvicorn's own code sees it: a write there re-decides the direct path.

    uvicorn writes handshakes, pongs, pings and closes itself; after each, the
    socket may hold buffered bytes or be closing, and ``direct`` must say so
    before the next fan-out. Anything else is the transport's own. The
    descriptor is closed only after ``connection_lost`` (uvloop's and asyncio's
    transports both call it first), which disarms: a write never reaches a
    descriptor number since given to another socket.
    """

    __slots__ = ("protocol", "transport")

    def __init__(self, transport: asyncio.Transport, protocol: LiveWebSocketProtocol) -> None:
        self.transport, self.protocol = transport, protocol

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.transport.write(data)
        self.protocol.arm()

    def close(self) -> None:
        self.protocol.direct = None
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


@lru_cache(maxsize=1)
def text_frame(text: str) -> bytes:
    """An unmasked text frame; a fan-out asks for the same one for every socket."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class LiveWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol with less held per socket and a direct write."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.inbox, self.gate = Inbox(), Gate()
        self.queue = self.inbox  # type: ignore[assignment]
        self.writable = self.gate  # type: ignore[assignment]
        self.fd: int | None = None  # the socket's descriptor, if frames may go to it straight
        self.direct: int | None = None  # fd while a frame may go straight to it now

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.raw = self.transport
        self.transport = Watched(self.raw, self)  # type: ignore[assignment]
        sock = self.raw.get_extra_info("socket")
        if sock is not None and not is_ssl(self.raw):  # TLS bytes are never ours to write
            self.fd = sock.fileno()

    def _writable(self) -> bool:
        """Accepted and open, without extensions, not closing, not paused by flow control."""
        conn = self.conn
        return (
            self.gate.is_open
            and conn.state is OPEN
            and not conn.extensions
            and not self.close_sent
            and not self.disconnected
        )

    def arm(self) -> None:
        """Open the direct path if a frame may go straight to the socket now, else close it."""
        ready = self._writable() and not self.raw.get_write_buffer_size()
        self.direct = self.fd if ready else None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self.arm()

    def pause_writing(self) -> None:
        self.direct = None
        super().pause_writing()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.direct = None
        super().connection_lost(exc)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # websockets' parser keeps the request for the life of the socket (a local
        # of its generator); its headers, now copied into the scope, are not read again.
        event.headers.clear()
        if not self.handshake_complete:  # the app was called with this scope
            # ASGI's types say an extension is a dict; this one is the callable itself.
            self.scope["extensions"][SEND_NOW] = self.send_now  # type: ignore[assignment]

    def send_now(self, text: str) -> bool:
        """Write ``text`` as a frame now if the socket can take it; False if it cannot."""
        fd = self.direct
        if fd is None:
            return self._send_checked(text)
        data = text_frame(text)
        try:
            sent = _write(fd, data)
        except BlockingIOError:  # its send buffer is full
            sent = 0
        except OSError:  # the peer went away: the transport's own write will say so
            self.direct = None
            return self._send_checked(text)
        if sent < len(data):
            self.direct = None
            self.raw.write(memoryview(data)[sent:])
        return True

    def _send_checked(self, text: str) -> bool:
        if not self._writable():
            return False
        self.raw.write(text_frame(text))
        self.arm()
        return True

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            del self.request, self.response  # read by the handshake only

    async def receive(self) -> ASGIReceiveEvent:
        inbox = self.inbox
        while not inbox.items:
            inbox.waiter = self.loop.create_future()
            await inbox.waiter
        message = inbox.items.pop(0)
        if self.read_paused and not inbox.items:
            self.read_paused = False
            self.transport.resume_reading()
        return message
