"""The live session websocket: ``/ws/sessions/{session_id}?token=&since=``.

Who may join is decided before the socket is accepted: anyone else gets an
HTTP problem (401/403/404/422) on the handshake where the server supports
denial responses, a close with 1008 (policy) otherwise. This module reads the
address and speaks ASGI; :meth:`realtime.runtime.LiveRuntime.serve` does the
rest, through :class:`AsgiSocket`, in one call down.

The socket is served by :func:`live_session`, called by the app before its
middleware stack (:class:`api.app.FestivalAPI`), rather than by a route: a live
socket is held for hours, by thousands at once, and each frame of middleware,
routing and dependency solving would stay alive, with its memory, on every
idle socket, for one path whose parameters take a few lines. For the same
reason :func:`live_session` is not a coroutine itself (it hands back the
runtime's), the Starlette ``WebSocket`` serves the handshake only, and after
it frames go through the server's ASGI ``receive`` and ``send``, and through
its ``festival.send_now`` extension where the server offers it
(``festival serve`` does: :mod:`api.live.uvicorn_protocol`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from fastapi.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from api.http.problems import PROBLEM, TYPE_BASE
from api.live.uvicorn_protocol import SEND_NOW
from festival.errors import FestivalError, Invalid, NotFound
from realtime.protocol import CLOSE_POLICY
from realtime.runtime import LiveRuntime

MAX_TOKEN = 200
_PATH = re.compile(r"/ws/sessions/([^/]+)/?")


class AsgiSocket:
    """The runtime's :class:`~realtime.runtime.Socket` over an ASGI websocket.

    ``write_now`` is the server's ``festival.send_now`` itself where it has one,
    so that a fan-out calls the server with no frame of ours between, and
    otherwise never writes, so every frame goes through ``websocket.send``.
    ``receive`` is the server's ASGI ``receive`` itself, for the same reason on
    the way in: an idle socket waits in it with nothing of ours around it.
    """

    __slots__ = ("receive", "scope", "send", "write_now")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope, self.receive, self.send = scope, receive, send
        send_now: Callable[[str], bool] | None = (scope.get("extensions") or {}).get(SEND_NOW)
        self.write_now: Callable[[str], bool] = send_now or _never

    async def accept(self) -> None:
        await WebSocket(self.scope, self.receive, self.send).accept()

    async def deny(self, exc: FestivalError) -> None:
        ws = WebSocket(self.scope, self.receive, self.send)
        if "websocket.http.response" in self.scope.get("extensions", {}):
            body = {"type": TYPE_BASE + exc.code, "title": exc.title, "status": exc.status}
            body |= {"detail": exc.detail, "code": exc.code}
            await ws.send_denial_response(JSONResponse(body, exc.status, media_type=PROBLEM))
        else:
            await ws.close(CLOSE_POLICY, exc.code)

    def frame_of(self, message: Message) -> str | bytes | None:
        if message["type"] != "websocket.receive":
            return None
        text: str | None = message.get("text")
        return text if text is not None else message.get("bytes") or b""

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


def live_session(
    runtime: LiveRuntime, scope: Scope, receive: Receive, send: Send, raw_id: str
) -> Awaitable[None]:
    """One participant in one live session (see API.md, Live sessions), to be awaited."""
    socket = AsgiSocket(scope, receive, send)
    query = parse_qs(scope["query_string"].decode("latin-1"))
    try:
        session_id, since = _parse(raw_id, query)
    except FestivalError as exc:
        return socket.deny(exc)
    return runtime.serve(socket, _token(scope, query), session_id, since)
