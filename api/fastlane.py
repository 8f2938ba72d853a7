"""The door's fast lane: ticket scans served without the router and dependency stack.

At the doors of a festival opening, scans are most of the traffic, and the
framework around them cost as much CPU as the scan itself (routing, dependency
solving, validation wrappers). This pure ASGI middleware serves the plain
shape of ``POST /api/v1/festivals/{slug}/checkins`` itself, with the same
domain call (:func:`tickets.checkin.check_in`), the same unit of work and the
same replies as the route. Anything else goes to the route unchanged, its body
replayed: a request with an ``Idempotency-Key``, a body that is not a valid
``CheckinCreate`` (the route answers its 422), any other method or path.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import PROBLEM, problem
from festival.db import unit_of_work
from festival.errors import FestivalError
from tickets import checkin
from tickets.schemas import CheckinCreate

_PATH = re.compile(r"/api/v1/festivals/([^/]+)/checkins")
MAX_BODY = 16 * 1024  # a scan is a few hundred bytes; bigger ones go to the route


class _Route:
    """What the metrics label a request with (the route template)."""

    path = "/api/v1/festivals/{slug}/checkins"


class DoorScans:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = None
        if scope["type"] == "http" and scope["method"] == "POST":
            found = _PATH.fullmatch(scope["path"])
        if found is None or _header(scope, b"idempotency-key") is not None:
            await self.app(scope, receive, send)
            return
        body, complete = await _read(receive)
        try:
            data = CheckinCreate.model_validate_json(body) if complete else None
        except ValidationError:
            data = None
        if data is None:
            await self.app(scope, _replay(body, complete, receive), send)
            return
        scope["route"] = _Route
        response = await _scan(scope, found[1], data)
        await response(scope, receive, send)


async def _scan(scope: Scope, slug: str, data: CheckinCreate) -> JSONResponse:
    sessionmaker = scope["app"].state.sessionmaker
    try:
        async with unit_of_work(sessionmaker) as session:
            token = _bearer(scope)
            outcome = await checkin.check_in(session, token, slug, data.qr, data.list, data.gate)
    except FestivalError as exc:
        return problem(exc.status, exc.code, exc.title, exc.detail, **exc.extras)
    media_type = PROBLEM if outcome.status >= 400 else None
    return JSONResponse(outcome.body, status_code=outcome.status, media_type=media_type)


def _header(scope: Scope, name: bytes) -> bytes | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == name:
            return value
    return None


def _bearer(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer`` header, as the route's HTTPBearer reads it."""
    value = _header(scope, b"authorization")
    if value is None:
        return None
    scheme, _, token = value.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token


async def _read(receive: Receive) -> tuple[bytes, bool]:
    """The request body, up to ``MAX_BODY``; whether it was read whole."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > MAX_BODY:
            return b"".join(chunks), False


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` first, then whatever the client still sends."""
    given = False

    async def _receive() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        message: dict[str, Any] = {"type": "http.request", "body": body}
        message["more_body"] = not complete
        return message

    return _receive
