"""The live session websocket: ``/ws/sessions/{session_id}?token=&since=``.

Who may join is decided before the socket is accepted: anyone else gets an
HTTP problem (401/403/404/422) on the handshake where the server supports
denial responses, a close with 1008 (policy) otherwise. After that the
endpoint only shuttles frames between the socket and the hub; the protocol and
the domain decide everything.

The socket is served by :func:`live_session`, called by the app before its
middleware stack (:class:`api.app.FestivalAPI`), rather than by a route: a live
socket is held for hours, by thousands at once, and each frame of middleware,
routing and dependency solving it kept alive cost memory on every idle socket
(once some twenty frames, a third of its memory), for one path whose
parameters take a few lines. For the same reason the Starlette ``WebSocket``
serves the handshake only; after it, frames go through the server's ASGI
``receive`` and ``send``, and through its ``festival.send_now`` extension where
the server offers it (``festival serve`` does: :mod:`api.live.uvicorn_protocol`).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from urllib.parse import parse_qs

from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from api.http.problems import PROBLEM, TYPE_BASE
from api.live.uvicorn_protocol import SEND_NOW
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

    ``write_now`` is the server's ``festival.send_now`` itself where it has one,
    so that a fan-out calls the server with no frame of ours between, and
    otherwise never writes, so every frame goes through ``websocket.send``.
    """

    __slots__ = ("send", "write_now")

    def __init__(self, send: Send, send_now: Callable[[str], bool] | None) -> None:
        self.send = send
        self.write_now: Callable[[str], bool] = send_now or _never

    async def send_text(self, text: str) -> None:
        await self.send({"type": "websocket.send", "text": text})

    async def close(self, code: int, reason: str = "") -> None:
        await self.send({"type": "websocket.close", "code": code, "reason": reason})


def _never(text: str) -> bool:
    return False


def live_path(scope: Scope) -> str | None:
    """The raw session id of a live-session socket's path; None for anything else."""
    if scope["type"] != "websocket":
        return None
    found = _PATH.fullmatch(scope["path"])
    return None if found is None else found[1]


def _token(scope: Scope, query: dict[str, list[str]]) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
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


async def _open(
    runtime: LiveRuntime, scope: Scope, receive: Receive, send: Send, raw_id: str
) -> tuple[LiveContext, int | None] | None:
    """Accept the socket of someone who may join, or deny it; who, and since when."""
    ws = WebSocket(scope, receive, send)
    query = parse_qs(scope["query_string"].decode("latin-1"))
    try:
        session_id, since = _parse(raw_id, query)
        # Behind the gate, like every frame's unit of work: a crowd joining at once
        # queues for the database instead of opening a connection each (on SQLite
        # a thread and a page cache each, ~9 MB kept after 1,000 joins at once).
        async with runtime.gate, unit_of_work(runtime.sessionmaker) as session:
            principal = await resolve_principal(session, _token(scope, query))
            ctx = await access.enter(session, principal, session_id, runtime.hub)
    except FestivalError as exc:
        await _deny(ws, exc)
        return None
    await ws.accept()
    return ctx, since


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


async def live_session(
    runtime: LiveRuntime, scope: Scope, receive: Receive, send: Send, raw_id: str
) -> None:
    """One participant in one live session (see API.md, Live sessions)."""
    opened = await _open(runtime, scope, receive, send, raw_id)
    if opened is None:
        return
    ctx, since = opened

    async def _snapshot(seq: int) -> dict[str, object]:
        return await runtime.snapshot(ctx, seq)

    transport = SocketTransport(send, (scope.get("extensions") or {}).get(SEND_NOW))
    client = await runtime.hub.join(str(ctx.session_id), transport, ctx.role, since, _snapshot)
    state = ClientState(ctx.role, runtime.limits, runtime.allowance(ctx))
    in_flight: set[asyncio.Future[str]] = set()
    clock = runtime.hub.clock
    try:
        while not client.closed:
            message = await receive()
            if message["type"] != "websocket.receive":
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
    finally:
        runtime.hub.leave(client)
