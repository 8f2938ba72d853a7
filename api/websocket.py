"""The live session websocket: ``/ws/sessions/{session_id}?token=&since=``.

Who may join is decided before the socket is accepted: anyone else gets an
HTTP problem (401/403/404/422) on the handshake where the server supports
denial responses, a close with 1008 (policy) otherwise. After that the
endpoint only shuttles frames between the socket and the hub; the protocol and
the domain decide everything.

The socket is served by :class:`LiveSockets`, a pure ASGI middleware, rather
than by a route: a live socket is held for hours, by thousands at once, and
behind the router each one kept some twenty frames of middleware, routing and
dependency solving alive (a third of its memory, and objects every full
garbage collection walks), for one path whose parameters take a few lines.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from urllib.parse import parse_qs

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from api.problems import PROBLEM, TYPE_BASE
from api.runtime_live import BATCHED, LiveRuntime
from festival.auth import resolve_principal
from festival.db import unit_of_work
from festival.errors import FestivalError, Invalid, NotFound
from realtime import access
from realtime.hub import Client
from realtime.live import LiveContext
from realtime.protocol import CLOSE_POLICY, ClientState, Command, Reply, decide

MAX_IN_FLIGHT = 16
MAX_TOKEN = 200
_PATH = re.compile(r"/ws/sessions/([^/]+)/?")


class SocketTransport:
    """The hub's :class:`~realtime.hub.Transport` over an ASGI websocket.

    Frames go to the server's ASGI ``send`` directly: this is the hot path of
    every fan-out, and Starlette's wrapper would add two coroutines per frame
    for checks the server makes anyway (a send after close or disconnect raises).
    """

    __slots__ = ("send", "ws")

    def __init__(self, ws: WebSocket, send: Send) -> None:
        self.ws, self.send = ws, send

    async def send_text(self, text: str) -> None:
        await self.send({"type": "websocket.send", "text": text})

    async def close(self, code: int, reason: str = "") -> None:
        await self.ws.close(code, reason)


class LiveSockets:
    """Pure ASGI middleware: live-session sockets go straight to :func:`live_session`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            found = _PATH.fullmatch(scope["path"])
            if found is not None:
                await live_session(WebSocket(scope, receive, send), send, found[1])
                return
        await self.app(scope, receive, send)


def _token(ws: WebSocket, query: dict[str, list[str]]) -> str | None:
    headers: list[tuple[bytes, bytes]] = ws.scope["headers"]
    for name, value in headers:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].decode("latin-1").strip()
    tokens = query.get("token")
    if not tokens:
        return None
    return tokens[-1] if len(tokens[-1]) <= MAX_TOKEN else ""


def _parse(raw_id: str, query: dict[str, list[str]]) -> tuple[uuid.UUID, int | None]:
    """The session id and ``since`` of a socket's address, or the error to deny it with."""
    try:
        session_id = uuid.UUID(raw_id)
    except ValueError:
        raise NotFound("No such live session") from None
    if "since" not in query:
        return session_id, None
    raw_since = query["since"][-1]
    if not raw_since.isascii() or not raw_since.isdigit() or len(raw_since) > 18:
        raise Invalid("since must be an event number (0 or more)", field="since")
    return session_id, int(raw_since)


async def _deny(ws: WebSocket, exc: FestivalError) -> None:
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        body = {"type": TYPE_BASE + exc.code, "title": exc.title, "status": exc.status}
        body |= {"detail": exc.detail, "code": exc.code}
        await ws.send_denial_response(JSONResponse(body, exc.status, media_type=PROBLEM))
    else:
        await ws.close(CLOSE_POLICY, exc.code)


async def _enter(
    ws: WebSocket, runtime: LiveRuntime, raw_id: str
) -> tuple[LiveContext, int | None] | None:
    query = parse_qs(ws.scope["query_string"].decode("latin-1"))
    try:
        session_id, since = _parse(raw_id, query)
        async with unit_of_work(runtime.sessionmaker) as session:
            principal = await resolve_principal(session, _token(ws, query))
            return await access.enter(session, principal, session_id, runtime.hub), since
    except FestivalError as exc:
        await _deny(ws, exc)
        return None


async def _pipeline(
    runtime: LiveRuntime,
    ctx: LiveContext,
    command: Command,
    client: Client,
    in_flight: set[asyncio.Future[str]],
) -> None:
    """Votes do not hold up the reader: it keeps reading (pongs too) while they commit.

    At most ``MAX_IN_FLIGHT`` per socket; past that the reader waits for one.
    """
    future = runtime.submit(ctx, command)
    in_flight.add(future)

    def _done(done: asyncio.Future[str]) -> None:
        in_flight.discard(done)
        if not done.cancelled():
            client.push(done.result())

    future.add_done_callback(_done)
    if len(in_flight) >= MAX_IN_FLIGHT:
        await asyncio.wait(set(in_flight), return_when=asyncio.FIRST_COMPLETED)


async def live_session(ws: WebSocket, send: Send, raw_id: str) -> None:
    """One participant in one live session (see API.md, Live sessions)."""
    runtime: LiveRuntime = ws.scope["app"].state.live
    entered = await _enter(ws, runtime, raw_id)
    if entered is None:
        return
    ctx, since = entered
    await ws.accept()

    async def _snapshot(seq: int) -> dict[str, object]:
        return await runtime.snapshot(ctx, seq)

    client = await runtime.hub.join(
        str(ctx.session_id), SocketTransport(ws, send), ctx.role, since, _snapshot
    )
    state = ClientState(ctx.role, runtime.limits, runtime.allowance(ctx))
    in_flight: set[asyncio.Future[str]] = set()
    clock = runtime.hub.clock
    try:
        while not client.closed:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("text")
            decision = decide(
                state, raw if raw is not None else message.get("bytes") or b"", clock()
            )
            if isinstance(decision, Reply):
                for frame in decision.frames:
                    client.push(frame)
                if decision.close is not None:
                    await runtime.hub.close(client, decision.close, "too many bad frames")
                    break
                continue
            if decision.type in BATCHED:
                await _pipeline(runtime, ctx, decision, client, in_flight)
                continue
            client.push(await runtime.execute(ctx, decision))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        runtime.hub.leave(client)
