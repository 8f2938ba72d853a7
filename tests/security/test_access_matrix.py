"""Every operation x fifteen kinds of caller: who may act, and that nobody else learns anything.

The operations are read from the app's own OpenAPI document (every path and
method), plus the routes it leaves out of it (pages, docs) and the live-session
websocket of API.md, so a new route cannot slip past: an operation without a
row in ``tests.security.access_rules.RULES`` fails ``test_every_operation_has_a_rule``
and its own case.

Each row says which callers (``tests.security.world.CALLERS``) may succeed.
Path parameters name real objects of festival A, and bodies are valid, so that
a refusal is about the caller and not about the request:

- a caller the row allows gets no 401, 403 or 404 (2xx or 3xx, or a status the
  row names, such as the 409 of publishing twice);
- any other caller gets 401, 403 or 404 (exactly 401 without a valid token);
- nobody gets a 5xx;
- no reply (refusals included) holds a private marker of festival A (e-mails,
  an attendee's name, a pending question, a draft poll, a staff label, the name
  of an unpublished festival) unless the caller is one it is shown to.

Two more passes reuse the rows: the reads of festival A on an unpublished
festival (its organiser alone may read it), and every operation whose address
ends in an id, called by A's allowed callers with the id of festival B's object
of the same kind (B's track through A's slug, B's question through A's session).

One app and one world (``tests.security.world``) serve the module on each
database. Refused callers come first, so they meet the objects before an
allowed one may change them; operations that spend what other rows need
(cancelling, reissuing, rotating the feed token) get attendees of their own.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.routers.pages import short_code
from festival.settings import Settings
from tests.conftest import BACKENDS, Backend, Databases, _empty_tables, made_backend
from tests.factories.festival import auth
from tests.realtime.asgi import AsgiSocket
from tests.security.access_rules import (
    DEFAULT_PARAMS,
    FEST,
    LIVE,
    ORGANISER_A,
    RULES,
    WS,
    Raw,
    Rule,
)
from tests.security.world import CALLERS, UNAUTHENTICATED, World, build_world, with_new_attendees

SECRET = "test-secret-key-not-for-production"


# --- the operations, as the app declares them ----------------------------------


def _settings(url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=url,
        secret_key=SECRET,
        base_url="http://testserver",
        redis_url=None,
    )


def operations(app: FastAPI, spec: dict[str, Any]) -> list[str]:
    """Every operation of ``spec`` (the app's OpenAPI), the app's routes left out of
    it (static mounts aside: files, no token), and the live-session socket."""
    found = [
        f"{method.upper()} {path}"
        for path, methods in spec["paths"].items()
        for method in methods
        if method in {"get", "put", "post", "patch", "delete"}
    ]
    for route in iter_route_contexts(app.routes):
        if route.path not in spec["paths"]:
            found += [f"{m} {route.path}" for m in sorted((route.methods or set()) - {"HEAD"})]
    return [*found, WS]


def _innermost(operation: str) -> str | None:
    """The last path parameter of an API operation (None for pages and docs)."""
    path = operation.split(" ", 1)[1]
    if not path.startswith(("/api/", "/ws/")):
        return None
    names = re.findall(r"{(\w+)}", path)
    return names[-1] if names else None


# Built only to read its routes: the database it names is never opened.
_app = create_app(_settings("sqlite+aiosqlite:///./never-opened.db"))
OPERATIONS = operations(_app, _app.openapi())
del _app
DRAFT_READS = [op for op in OPERATIONS if op.startswith(f"GET {FEST}")]
BY_ID = [op for op in OPERATIONS if _innermost(op) not in {None, "slug"}]


# --- one app and one world per database ------------------------------------------


@dataclass
class Matrix:
    app: FastAPI
    client: httpx.AsyncClient
    engine: AsyncEngine
    world: World
    calls: int = 0
    started: float = field(default_factory=time.monotonic)


@pytest.fixture(scope="module", params=BACKENDS)
async def matrix_backend(
    request: pytest.FixtureRequest, databases: Databases
) -> AsyncIterator[Backend]:
    """``tests.conftest.backend`` for a whole module: the tables are emptied at its end."""
    made = await made_backend(request.param, databases)
    yield made
    await _empty_tables(made.engine)


@pytest.fixture(scope="module")
async def matrix(matrix_backend: Backend) -> AsyncIterator[Matrix]:
    app = create_app(_settings(matrix_backend.url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            world = await build_world(client, matrix_backend.engine)
            made = Matrix(app, client, matrix_backend.engine, world)
            yield made
            print(
                f"\naccess matrix on {matrix_backend.name}: {len(OPERATIONS)} operations"
                f" x {len(CALLERS)} callers, {len(DRAFT_READS)} reads of a draft"
                f" x {len(CALLERS)}, {len(BY_ID)} operations with B's ids:"
                f" {made.calls} requests in {time.monotonic() - made.started:.1f} s"
            )


# --- calling an operation as a caller ------------------------------------------


@dataclass
class Reply:
    status: int
    text: str


def _path(template: str, rule: Rule, world: World, foreign: bool = False) -> str:
    """``template`` filled with A's objects; with ``foreign``, its last parameter
    names B's object of the same kind instead."""
    keys = DEFAULT_PARAMS | rule.params
    values = {
        "slug": world.slug_a,
        "code": short_code(uuid.UUID(world.ids["keynote"])),
        **{name: world.ids[key] for name, key in keys.items()},
    }
    if foreign and (last := _innermost(f"X {template}")) is not None:
        values[last] = world.foreign_ids[keys[last]]
    try:
        return template.format(**values)
    except KeyError as missing:
        raise AssertionError(f"{template}: say in its Rule how to fill {missing}") from None


async def _call(
    matrix: Matrix, operation: str, rule: Rule, world: World, caller: str, foreign: bool = False
) -> Reply:
    method, template = operation.split(" ", 1)
    path, token = _path(template, rule, world, foreign), world.tokens[caller]
    matrix.calls += 1
    if method == "WS":
        return await _join(matrix.app, path, token)
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    if token is not None and rule.token_in == "query":
        params["token"] = token
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    content: str | None = None
    body = rule.body(world) if rule.body is not None else None
    if isinstance(body, Raw):
        content, headers["Content-Type"] = body.content, body.media_type
        body = None
    response = await matrix.client.request(
        method, path, headers=headers, params=params, json=body, content=content
    )
    return Reply(response.status_code, response.text)


async def _join(app: FastAPI, path: str, token: str | None) -> Reply:
    """The socket's handshake (a denial is an HTTP reply: the client offers the
    ASGI denial extension), and its first frame, the snapshot, when accepted."""
    socket = AsgiSocket(app, path, f"token={token}" if token is not None else "")
    first = await socket.connect()
    if first["type"] == "websocket.http.response.start":
        body = await socket.message()
        return Reply(first["status"], body.get("body", b"").decode())
    assert first["type"] == "websocket.accept", first
    snapshot = await socket.frame()
    assert snapshot["type"] == "snapshot", snapshot
    await socket.close()
    return Reply(101, str(snapshot))


def _verdict(rule: Rule, world: World, caller: str, reply: Reply) -> str | None:
    """What is wrong with ``reply`` to ``caller``, or None."""
    status, allowed = reply.status, caller in rule.allowed
    if status >= 500:
        return f"{status} (a 5xx)"
    leaked = [
        m for m, seen_by in world.markers.items() if caller not in seen_by and m in reply.text
    ]
    if leaked:
        return f"{status} holding festival A's private {leaked}"
    if allowed and not (status < 400 or status in rule.also):
        return f"{status}, but this caller may do this: {reply.text[:300]}"
    if not allowed and caller in UNAUTHENTICATED and status not in rule.no_token:
        expected = "/".join(map(str, sorted(rule.no_token)))
        return f"{status}, but without a valid token the answer is {expected}: {reply.text[:300]}"
    if not allowed and status not in {401, 403, 404}:
        return f"{status}, but this caller may not do this: {reply.text[:300]}"
    return None


async def _check(
    matrix: Matrix,
    operation: str,
    rule: Rule,
    world: World,
    callers: Iterable[str],
    foreign: bool = False,
) -> None:
    wrong = {}
    for caller in callers:
        reply = await _call(matrix, operation, rule, world, caller, foreign)
        if (why := _verdict(rule, world, caller, reply)) is not None:
            wrong[caller] = why
    assert wrong == {}, f"{operation}:\n" + "\n".join(f"  {c}: {w}" for c, w in wrong.items())


# --- the matrix ------------------------------------------------------------------


def _rule(operation: str) -> Rule:
    rule = RULES.get(operation)
    assert rule is not None, f"{operation} has no rule: add one to access_rules.RULES"
    return rule


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_operation_admits_exactly_its_callers(matrix: Matrix, operation: str) -> None:
    rule = _rule(operation)
    world = matrix.world
    if rule.fresh:
        world = await with_new_attendees(matrix.client, world)
    # Refused callers first: they meet the objects before an allowed one changes them.
    await _check(matrix, operation, rule, world, sorted(CALLERS, key=rule.allowed.__contains__))


@pytest.mark.parametrize("operation", DRAFT_READS)
async def test_a_draft_festival_is_seen_by_its_organiser_alone(
    matrix: Matrix, operation: str
) -> None:
    """The reads of festival A again, on an unpublished festival of A's organiser:
    whoever the published row lets in, only that organiser may read it now (and
    only where the row lets organisers in: the door's bundle stays the door's)."""
    rule = _rule(operation)
    # A draft is hidden (404) from anonymous callers and strangers alike, as API.md says.
    rule = replace(rule, allowed=rule.allowed & ORGANISER_A, no_token=rule.no_token | {404})
    await _check(matrix, operation, rule, matrix.world.draft(), CALLERS)


@pytest.mark.parametrize("operation", BY_ID)
async def test_an_id_of_another_festival_is_not_reached_through_a(
    matrix: Matrix, operation: str
) -> None:
    """A's allowed callers, at A's address but naming B's object of the same kind
    last (B's track under A's slug, B's question or poll under A's session, B's
    session as the live session): refused, never acted on."""
    rule = _rule(operation)
    callers = sorted(rule.allowed)
    foreign = replace(rule, allowed=frozenset(), no_token=frozenset({401, 403, 404}))
    await _check(matrix, operation, foreign, matrix.world, callers, foreign=True)


def _b(key: str) -> Callable[[World], str]:
    return lambda w: w.foreign_ids[key]


NamingB = Callable[[World], dict[str, Any]]
# A caller allowed to act on A names one of B's objects in the body instead of the path.
BODIES_NAMING_B: dict[str, tuple[str, str, NamingB]] = {
    "new session, B's speaker": (
        f"POST {FEST}/sessions",
        "organiser_a",
        lambda w: {"speaker_ids": [_b("speaker")(w)]},
    ),
    "new session, B's track": (
        f"POST {FEST}/sessions",
        "organiser_a",
        lambda w: {"track_id": _b("track")(w)},
    ),
    "new session, B's room": (
        f"POST {FEST}/sessions",
        "organiser_a",
        lambda w: {"room_id": _b("room")(w)},
    ),
    "moved to B's room": (
        f"PATCH {FEST}/sessions/{{session_id}}",
        "organiser_a",
        lambda w: {"room_id": _b("room")(w)},
    ),
    "given B's speaker": (
        f"PATCH {FEST}/sessions/{{session_id}}",
        "organiser_a",
        lambda w: {"speaker_ids": [_b("speaker")(w)]},
    ),
    "staff token limited to B's session": (
        f"POST {FEST}/staff-tokens",
        "organiser_a",
        lambda w: {"session_ids": [_b("keynote")(w)]},
    ),
    "scan for B's session": (
        f"POST {FEST}/checkins",
        "checkin_a",
        lambda w: {"list": _b("keynote")(w)},
    ),
    "vote for B's option": (
        f"POST {LIVE}/polls/{{poll_id}}/votes",
        "attendee_a",
        lambda w: {"option_ids": [_b("poll_open_option")(w)]},
    ),
}


@pytest.mark.parametrize("case", BODIES_NAMING_B)
async def test_a_body_naming_festival_bs_objects_is_refused(matrix: Matrix, case: str) -> None:
    """Ids in a body are held to the festival of the address, like ids in a path:
    refused (404 or 422, naming the field), so nothing of B's is linked into A."""
    operation, caller, naming_b = BODIES_NAMING_B[case]
    rule = _rule(operation)
    base = rule.body(matrix.world) if rule.body is not None else {}
    assert isinstance(base, dict)
    reply = await _call(
        matrix, operation, replace(rule, body=lambda w: base | naming_b(w)), matrix.world, caller
    )
    assert reply.status in {404, 422}, reply.text[:300]
    # Refused for the id it names, not for anything else in the body.
    fields = [error["field"] for error in json.loads(reply.text).get("errors", [])]
    assert fields == list(naming_b(matrix.world)), reply.text[:300]


async def test_the_private_markers_are_there_to_leak(matrix: Matrix) -> None:
    """A negative test needs data that could leak: each marker is in a reply to
    someone who may see it (the team's e-mails: in the members list, to owners)."""
    world = matrix.world
    seen = ""
    for caller, path in [
        ("organiser_a", f"/api/v1/festivals/{world.slug_a}/speakers/{world.ids['speaker']}"),
        ("organiser_a", f"/api/v1/festivals/{world.slug_a}/registrations"),
        ("organiser_a", f"/api/v1/festivals/{world.slug_a}/staff-tokens"),
        ("organiser_a", f"/api/v1/festivals/{world.slug_a}/devices"),
        ("organiser_a", f"/api/v1/festivals/{world.slug_a}/members"),
        ("organiser_a", "/api/v1/festivals"),
        ("moderator_a", f"/api/v1/sessions/{world.ids['keynote']}/questions"),
        ("moderator_a", f"/api/v1/sessions/{world.ids['keynote']}/polls"),
        ("moderator_a", f"/api/v1/sessions/{world.ids['keynote']}/join"),
    ]:
        response = await matrix.client.get(path, headers=auth(world.tokens[caller] or ""))
        assert response.status_code == 200, response.text
        seen += response.text
    assert [m for m in world.markers if m not in seen] == []


async def test_every_operation_has_a_rule(matrix: Matrix) -> None:
    """The document the running app serves, not a copy: a new route needs a row."""
    served = (await matrix.client.get("/openapi.json")).json()
    live = operations(matrix.app, served)
    assert sorted(live) == sorted(OPERATIONS)
    assert sorted(set(live) - RULES.keys()) == [], "operations without a rule"
    assert sorted(RULES.keys() - set(live)) == [], "rules for operations that are gone"
