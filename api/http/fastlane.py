"""Fast lanes: the two busiest POSTs served without FastAPI's router and dependency stack.

At the doors of a festival opening, scans are most of the traffic; when
registration opens, registrations are. For both, the framework around the call
(routing, dependency solving, validation wrappers) is a large share of what a
request costs (bench/RESULTS.md has the figures). This pure ASGI middleware
serves the plain shape of

- ``POST /api/v1/festivals/{slug}/checkins`` (:func:`api.http.answers.scan`),
- ``POST /api/v1/festivals/{slug}/registrations`` (:func:`api.http.answers.register`),

as a shim of the route, not a second implementation: it reads the token with
the routes' :func:`api.http.deps.bearer_token`, parses the body as FastAPI
parses it for the route (``json.loads``, then the route's model), makes the
same call in the same unit of work, and answers an exception with the handler
the app registered for it (:func:`api.http.problems.install`), which is what the
route's exception middleware calls. So no reply can differ: a test runs one
table of requests through both (``tests/test_fastlane_parity.py``).

One step more for a scan on PostgreSQL: the common one (a valid ticket at the
festival's entrance) is first tried with no session, in the door's line of
batches (:func:`api.http.answers.scan_at_once`), the same read and write
without the unit of work's cost; any other scan gets the route's call.

Anything else goes to the route unchanged, its body replayed: a request with
an ``Idempotency-Key``, a body not sent as JSON (the route answers 415) or that
does not parse or validate (the route answers its 422 naming the field), any
other method or path. An exception no handler takes goes up to Starlette's
server-error middleware, as a route's does.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http import answers, limits
from api.http.answers import Reply
from api.http.deps import bearer_token
from api.http.routing import is_json
from festival.db import unit_of_work
from tickets.schemas import CheckinCreate, RegistrationCreate

MAX_BODY = 16 * 1024  # a scan or a registration is a few hundred bytes; bigger go to the route


class Headers:
    """A request's headers as Starlette's ``Headers`` gives them to a route (names
    lowercase, the first of a repeated one, values latin-1), read in one pass:
    the lane looks up three."""

    __slots__ = ("_first",)

    def __init__(self, scope: Scope) -> None:
        self._first: dict[bytes, bytes] = dict(reversed(scope["headers"]))

    def get(self, name: str) -> str | None:
        value = self._first.get(name.encode("latin-1"))
        return None if value is None else value.decode("latin-1")

    def __contains__(self, name: str) -> bool:
        return name.encode("latin-1") in self._first


Serve = Callable[[Scope, Headers, str, Any], Awaitable[Reply]]


@dataclass(frozen=True)
class Lane:
    """One POST served here. ``path`` is the route template, the metrics' label;
    ``body`` the model the route declares for its body."""

    path: str
    pattern: re.Pattern[str]
    body: type[BaseModel]
    serve: Serve


async def _scan(scope: Scope, headers: Headers, slug: str, data: Any) -> Reply:
    """A scan: admitted at once where it can be (no session, in the door's line of
    batches, on PostgreSQL), else in a unit of work. The line's connection is
    given back before the unit of work takes one."""
    state = scope["app"].state
    token = bearer_token(headers.get("authorization"))
    if state.door is not None:
        reply = await answers.scan_at_once(state.door, token, slug, data)
        if reply is not None:
            return reply
    async with unit_of_work(state.sessionmaker) as session:
        return await answers.scan(session, token, slug, data)


async def _register(scope: Scope, headers: Headers, slug: str, data: Any) -> Reply:
    state = scope["app"].state
    limiter, address = limits.edge(scope)
    async with unit_of_work(state.sessionmaker) as session:
        return await answers.register(
            session, slug, data, limiter=limiter, address=address, base_url=state.settings.base_url
        )


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
        if lane is None or found is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope)
        if not _plain(headers):
            await self.app(scope, receive, send)
            return
        body, complete = await _read(receive)
        data = _parse(lane, body) if complete else None
        if data is None:
            await self.app(scope, _replay(body, complete, receive), send)
            return
        scope["route"] = lane
        response = await _serve(lane, scope, headers, found[1], data)
        await response(scope, receive, send)


def _match(scope: Scope) -> tuple[Lane | None, re.Match[str] | None]:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None, None
    for lane in LANES:
        found = lane.pattern.fullmatch(scope["path"])
        if found is not None:
            return lane, found
    return None, None


def _plain(headers: Headers) -> bool:
    """No ``Idempotency-Key``, and a body that says it is JSON, as the route requires
    (:mod:`api.http.routing`): any other type, or none, goes to the route for its 415."""
    return "idempotency-key" not in headers and is_json(headers.get("content-type"))


def _parse(lane: Lane, body: bytes) -> BaseModel | None:
    """The body as the route reads it: Starlette's ``Request.json`` (``json.loads``),
    then the route's model validating the Python value, as FastAPI does. None for
    anything that fails, which the route then answers."""
    try:
        return lane.body.model_validate(json.loads(body))
    except (ValueError, ValidationError, RecursionError):  # JSONDecodeError, UnicodeDecodeError
        return None


async def _serve(
    lane: Lane, scope: Scope, headers: Headers, slug: str, data: BaseModel
) -> Response:
    try:
        reply = await lane.serve(scope, headers, slug, data)
    except Exception as exc:
        handled = await _handled(scope, exc)
        if handled is None:
            raise
        return handled
    return reply.response()


async def _handled(scope: Scope, exc: Exception) -> Response | None:
    """The reply of the app's handler for ``exc``, looked up as Starlette's exception
    middleware looks it up for a route (by the exception's classes, most specific
    first); None when only the server-error middleware's handler would take it."""
    handlers: dict[Any, Callable[..., Any]] = scope["app"].exception_handlers
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        handler = handlers.get(cls)
        if handler is not None:
            response = handler(Request(scope), exc)
            if inspect.isawaitable(response):
                response = await response
            assert isinstance(response, Response)
            return response
    return None


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
