"""The websocket protocol ``festival serve`` gives uvicorn: its websockets-sansio one, leaner.

A live session holds thousands of sockets for hours, and writes each event to
all of them at once. This subclass of uvicorn's protocol changes three things:

- Memory. What the app has yet to receive waits in a list with one future,
  and the flow-control flag is a small gate, instead of an ``asyncio.Queue``
  and an ``asyncio.Event`` (five deques, ~4 KiB of an idle socket's ~19); the
  handshake's request and response, with their headers, are let go once the
  socket is accepted.
- Fan-out. The ``festival.send_now`` ASGI extension writes a text frame at
  once, with no coroutine, when the socket can take it (accepted, open, not
  paused by flow control); otherwise it says no and the app falls back to
  ``websocket.send``, which waits. A server frame is unmasked, so the bytes
  are the same for every socket: a fan-out hands each socket the same ``str``
  and the frame is built once.
- Nothing else: the handshake, pings, closing and flow control are uvicorn's.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State

SEND_NOW = "festival.send_now"


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
        if (
            self.close_sent
            or self.disconnected
            or not self.gate.is_open
            or self.conn.state is not State.OPEN
            or self.conn.extensions
        ):
            return False
        self.transport.write(text_frame(text))
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
