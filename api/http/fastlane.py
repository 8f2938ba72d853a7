"""Fast lanes: the two busiest POSTs served without the router and dependency stack.

At the doors of a festival opening, scans are most of the traffic; when
registration opens, registrations are. For both, the framework around the call
(routing, dependency solving, validation wrappers) cost about as much CPU as
the work itself. This pure ASGI middleware serves the plain shape of

- ``POST /api/v1/festivals/{slug}/checkins`` (:func:`api.http.answers.scan`),
- ``POST /api/v1/festivals/{slug}/registrations`` (:func:`api.http.answers.register`),

with the same call, the same unit of work and the same replies as the route.
Anything else goes to the route unchanged, its body replayed: a request with
an ``Idempotency-Key``, a body not sent as JSON (the route answers 415) or that
does not validate (the route answers its 422 naming the field), any other
method or path.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http import answers
from api.http.problems import problem_for
from api.http.routing import is_json
from festival.db import unit_of_work
from festival.errors import FestivalError
from tickets.schemas import CheckinCreate, RegistrationCreate

MAX_BODY = 16 * 1024  # a scan or a registration is a few hundred bytes; bigger go to the route

Serve = Callable[[AsyncSession, Scope, str, Any], Awaitable[JSONResponse]]


@dataclass(frozen=True)
class Lane:
    """One POST served here. ``path`` is the route template, the metrics' label."""

    path: str
    pattern: re.Pattern[str]
    body: type[BaseModel]
    serve: Serve


async def _scan(session: AsyncSession, scope: Scope, slug: str, data: Any) -> JSONResponse:
    return (await answers.scan(session, _bearer(scope), slug, data)).response()


async def _register(session: AsyncSession, scope: Scope, slug: str, data: Any) -> JSONResponse:
    return (await answers.register(session, slug, data)).response()


def _lane(path: str, body: type[BaseModel], serve: Serve) -> Lane:
    pattern = re.compile(re.escape(path).replace(re.escape("{slug}"), "([^/]+)"))
    return Lane(path, pattern, body, serve)


LANES = (
    _lane("/api/v1/festivals/{slug}/checkins", CheckinCreate, _scan),
    _lane("/api/v1/festivals/{slug}/registrations", RegistrationCreate, _register),
)


class FastLanes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane, found = _match(scope)
        if lane is None or found is None or not _plain(scope):
            await self.app(scope, receive, send)
            return
        body, complete = await _read(receive)
        try:
            data = lane.body.model_validate_json(body) if complete else None
        except ValidationError:
            data = None
        if data is None:
            await self.app(scope, _replay(body, complete, receive), send)
            return
        scope["route"] = lane
        response = await _serve(lane, scope, found[1], data)
        await response(scope, receive, send)


def _match(scope: Scope) -> tuple[Lane | None, re.Match[str] | None]:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None, None
    for lane in LANES:
        found = lane.pattern.fullmatch(scope["path"])
        if found is not None:
            return lane, found
    return None, None


async def _serve(lane: Lane, scope: Scope, slug: str, data: BaseModel) -> JSONResponse:
    sessionmaker = scope["app"].state.sessionmaker
    try:
        async with unit_of_work(sessionmaker) as session:
            return await lane.serve(session, scope, slug, data)
    except FestivalError as exc:
        return problem_for(exc)


def _plain(scope: Scope) -> bool:
    """No ``Idempotency-Key``, and a body that says it is JSON, as the route requires
    (:mod:`api.http.routing`): any other type, or none, goes to the route for its 415."""
    if _header(scope, b"idempotency-key") is not None:
        return False
    content_type = _header(scope, b"content-type")
    return content_type is not None and is_json(content_type.decode("latin-1"))


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
