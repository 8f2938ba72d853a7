"""The live session websocket: ``/ws/sessions/{session_id}?token=&since=``.

Who may join is decided before the socket is accepted: anyone else gets an
HTTP problem (401/403/404) on the handshake where the server supports denial
responses, a close with 1008 (policy) otherwise. After that the endpoint only
shuttles frames between the socket and the hub; the protocol and the domain
decide everything.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from api.problems import PROBLEM, TYPE_BASE
from api.runtime_live import BATCHED, LiveRuntime
from festival.auth import resolve_principal
from festival.db import unit_of_work
from festival.errors import FestivalError
from realtime import access
from realtime.hub import Client
from realtime.live import LiveContext
from realtime.protocol import CLOSE_POLICY, ClientState, Command, Reply, decide

router = APIRouter()
MAX_IN_FLIGHT = 16


class SocketTransport:
    """The hub's :class:`~realtime.hub.Transport` over a Starlette websocket."""

    __slots__ = ("ws",)

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    async def send_text(self, text: str) -> None:
        await self.ws.send_text(text)

    async def close(self, code: int, reason: str = "") -> None:
        await self.ws.close(code, reason)


def _token(ws: WebSocket, token: str | None) -> str | None:
    header = ws.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return token


async def _deny(ws: WebSocket, exc: FestivalError) -> None:
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        body = {"type": TYPE_BASE + exc.code, "title": exc.title, "status": exc.status}
        body |= {"detail": exc.detail, "code": exc.code}
        await ws.send_denial_response(JSONResponse(body, exc.status, media_type=PROBLEM))
    else:
        await ws.close(CLOSE_POLICY, exc.code)


async def _enter(
    ws: WebSocket, runtime: LiveRuntime, session_id: uuid.UUID, token: str | None
) -> LiveContext | None:
    try:
        async with unit_of_work(runtime.sessionmaker) as session:
            principal = await resolve_principal(session, _token(ws, token))
            return await access.enter(session, principal, session_id, runtime.hub)
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


@router.websocket("/ws/sessions/{session_id}")
async def live_session(
    ws: WebSocket,
    session_id: uuid.UUID,
    token: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[int | None, Query(ge=0)] = None,
) -> None:
    """One participant in one live session (see API.md, Live sessions)."""
    runtime: LiveRuntime = ws.app.state.live
    ctx = await _enter(ws, runtime, session_id, token)
    if ctx is None:
        return
    await ws.accept()

    async def _snapshot(seq: int) -> dict[str, object]:
        return await runtime.snapshot(ctx, seq)

    client = await runtime.hub.join(
        str(session_id), SocketTransport(ws), ctx.role, since, _snapshot
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
