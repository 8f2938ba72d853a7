"""The fast lanes answer exactly as the routes do: one table of requests, three doors.

Each request of the table goes, in turn, to three festivals set up alike:

- ``lane``: sent plain, so the fast lane serves it (``api.http.fastlane``), or
  hands it on to the route when it cannot read the body;
- ``keyed``: with a fresh ``Idempotency-Key``, which always takes the route (and
  there a transaction, the key being claimed in it);
- ``whole``: a body padded past the lane's ``MAX_BODY``, which takes the route
  without a key (so in the lane's own transaction mode).

Status, ``Content-Type`` and body must match byte for byte once the values that
name something new to each request are set aside: the ids of check-ins and
registrations (``id``, ``first_checkin_id``, ``ticket.id``), the secrets and the
signed payload a registration hands out (``attendee_token``, ``feed_token``,
``ticket.qr``), the time of a check-in (``checked_in_at``, also quoted in a
``detail``), and what differs between the festivals (slug, a workshop's id).
No case answers a 500, so no ``request_id`` is set aside.

The database conflicts are real: a unique index made behind the app's back and
a row it did not write, so the insert of a scan or a registration breaks a
constraint (an ``IntegrityError``, on PostgreSQL also from the driver path in
autocommit), which both doors must answer as the same ``409``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, insert, text

from api.http import fastlane
from festival.db import utcnow
from tests.conftest import Backend
from tests.factories.festival import auth
from tests.factories.tickets import open_festival, programme_session, registered, staff_token
from tickets.models import Checkin, Registration, Ticket

JSON = {"Content-Type": "application/json"}
DOORS = ("lane", "keyed", "whole")
CLASH = "Clash"  # the gate, and the attendee name, that the indexes below refuse a second time


@dataclass
class World:
    """One festival (and its neighbours) as each door finds it."""

    slug: str
    staff: str = ""
    organiser: str = ""
    moderator: str = ""
    other_staff: str = ""
    other_qr: str = ""
    feed: str = ""
    workshop: str = ""
    qr: dict[str, str] = field(default_factory=dict)
    closed: str = ""  # registration not open yet
    ended: str = ""  # registration closed
    unpublished: str = ""

    def varying(self) -> list[str]:
        return [
            v for v in (self.slug, self.closed, self.ended, self.unpublished, self.workshop) if v
        ]


@dataclass(frozen=True)
class Call:
    path: str
    content: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Case:
    name: str
    status: int
    call: Callable[[World], Call]
    lane: bool = True  # the lane serves it (else it hands it on to the route)


def _checkins(world: World) -> str:
    return f"/api/v1/festivals/{world.slug}/checkins"


def _scan(
    body: dict[str, Any], token: Callable[[World], dict[str, str]] | None = None
) -> Callable[[World], Call]:
    def call(world: World) -> Call:
        headers = JSON | (token(world) if token else auth(world.staff))
        return Call(_checkins(world), json.dumps(body | _qr(body, world)).encode(), headers)

    return call


def _qr(body: dict[str, Any], world: World) -> dict[str, Any]:
    """Names in ``body`` (``qr: "@ada"``, ``list: "@workshop"``) resolved in ``world``."""
    resolved: dict[str, Any] = {}
    if isinstance(body.get("qr"), str) and body["qr"].startswith("@"):
        resolved["qr"] = world.other_qr if body["qr"] == "@other" else world.qr[body["qr"][1:]]
    if body.get("list") == "@workshop":
        resolved["list"] = world.workshop
    return resolved


def _raw_scan(content: bytes, headers: dict[str, str]) -> Callable[[World], Call]:
    return lambda world: Call(_checkins(world), content, headers | auth(world.staff))


def _tampered(qr: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(qr + "=" * (-len(qr) % 4)))
    raw[-1] ^= 1  # the last byte of the signature
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


SCANS = [
    Case("admitted", 201, _scan({"qr": "@ada", "gate": "North"})),
    Case("already checked in", 409, _scan({"qr": "@ada", "gate": "South"})),
    Case(
        "lower-case scheme, token after two spaces",
        201,
        _scan({"qr": "@bo"}, lambda w: {"Authorization": f"bearer  {w.staff}"}),
    ),
    Case("garbage", 422, _scan({"qr": "hello"})),
    Case("forged", 422, _scan({"qr": "@forged"})),
    Case("a ticket deleted behind the app's back", 422, _scan({"qr": "@deleted"})),
    Case("cancelled", 422, _scan({"qr": "@cancelled"})),
    Case("reissued", 422, _scan({"qr": "@reissued"})),
    Case("no seat in the workshop", 422, _scan({"qr": "@cy", "list": "@workshop"})),
    Case("another festival's ticket", 422, _scan({"qr": "@other"})),
    Case("an unknown list", 404, _scan({"qr": "@cy", "list": "nowhere"})),
    Case(
        "an unknown festival",
        404,
        lambda w: Call(
            "/api/v1/festivals/no-such-festival/checkins",
            json.dumps({"qr": w.qr["cy"]}).encode(),
            JSON | auth(w.staff),
        ),
    ),
    Case("no token", 401, _scan({"qr": "@cy"}, lambda w: {})),
    Case("another scheme", 401, _scan({"qr": "@cy"}, lambda w: {"Authorization": "Basic eA=="})),
    Case("an unknown token", 401, _scan({"qr": "@cy"}, lambda w: auth("fs_no-such-token"))),
    Case("a feed token", 401, _scan({"qr": "@cy"}, lambda w: auth(w.feed))),
    Case("a moderator", 403, _scan({"qr": "@cy"}, lambda w: auth(w.moderator))),
    Case("the organiser", 403, _scan({"qr": "@cy"}, lambda w: auth(w.organiser))),
    Case("staff of another festival", 403, _scan({"qr": "@cy"}, lambda w: auth(w.other_staff))),
    Case("no qr", 422, _scan({"gate": "North"}), lane=False),
    Case("an unknown field", 422, _scan({"qr": "@cy", "door": 1}), lane=False),
    Case("qr of the wrong type", 422, _scan({"qr": 5}), lane=False),
    Case("malformed JSON", 422, _raw_scan(b'{"qr": "x",, "gate": "A"}', JSON), lane=False),
    Case("not UTF-8", 422, _raw_scan(b'{"qr": "\xff"}', JSON), lane=False),
    Case("text", 415, _raw_scan(b'{"qr": "x"}', {"Content-Type": "text/plain"}), lane=False),
    Case("no content type", 415, _raw_scan(b'{"qr": "x"}', {}), lane=False),
    Case("a database conflict, admitting", 409, _scan({"qr": "@dee", "gate": CLASH})),
    Case("a database conflict, refusing", 409, _scan({"qr": "garbage", "gate": CLASH})),
]


def _registrations(slug: str) -> str:
    return f"/api/v1/festivals/{slug}/registrations"


def _person(
    name: str, email: str, slug: Callable[[World], str] = lambda w: w.slug, **more: Any
) -> Callable[[World], Call]:
    body = {"name": name, "email": email, **more}
    return lambda world: Call(_registrations(slug(world)), json.dumps(body).encode(), JSON)


def _raw_person(content: bytes, headers: dict[str, str]) -> Callable[[World], Call]:
    return lambda world: Call(_registrations(world.slug), content, headers)


REGISTRATIONS = [
    Case("confirmed", 201, _person("Ada", "ada@example.org")),
    Case("the same e-mail", 409, _person("Ada", " ADA@example.org")),
    Case("a database conflict", 409, _person(CLASH, "clash@example.org")),
    Case("confirmed, the last place", 201, _person("Bo", "bo@example.org")),
    Case("waitlisted", 201, _person("Cy", "cy@example.org")),
    Case("not open yet", 409, _person("Di", "di@example.org", lambda w: w.closed)),
    Case("closed", 409, _person("Di", "di@example.org", lambda w: w.ended)),
    Case("unpublished", 404, _person("Di", "di@example.org", lambda w: w.unpublished)),
    Case("an unknown festival", 404, _person("Di", "di@example.org", lambda w: "no-such-fest")),
    Case("a bad e-mail", 422, _person("Di", "di@"), lane=False),
    Case(
        "no name",
        422,
        lambda w: Call(_registrations(w.slug), b'{"email": "d@x.org"}', JSON),
        lane=False,
    ),
    Case("an unknown field", 422, _person("Di", "di@example.org", admin=True), lane=False),
    Case(
        "malformed JSON", 422, _raw_person(b'{"name": "Di",, "email": "d@x.org"}', JSON), lane=False
    ),
    Case("not UTF-8", 422, _raw_person(b'{"name": "D\xff", "email": "d@x.org"}', JSON), lane=False),
    Case("text", 415, _raw_person(b'{"name": "Di"}', {"Content-Type": "text/plain"}), lane=False),
    Case("no content type", 415, _raw_person(b'{"name": "Di"}', {}), lane=False),
]


@pytest.fixture
async def clashes(backend: Backend) -> AsyncIterator[None]:
    """Unique indexes the app does not know of, over what only :data:`CLASH` rows share."""
    indexes = {
        "test_parity_checkin_clash": f"checkins (festival_id, gate) WHERE gate = '{CLASH}'",
        "test_parity_person_clash": f"registrations (festival_id, name) WHERE name = '{CLASH}'",
    }
    async with backend.engine.begin() as connection:
        for name, on in indexes.items():
            await connection.execute(text(f"CREATE UNIQUE INDEX {name} ON {on}"))
    try:
        yield
    finally:
        async with backend.engine.begin() as connection:
            for name in indexes:
                await connection.execute(text(f"DROP INDEX {name}"))


async def _behind_the_apps_back(backend: Backend, festival_id: str, **row: Any) -> None:
    model = Checkin if "gate" in row else Registration
    async with backend.engine.begin() as connection:
        values = {"id": uuid.uuid4(), "festival_id": uuid.UUID(festival_id), **row}
        await connection.execute(insert(model).values(**values))


async def _door(client: httpx.AsyncClient, backend: Backend) -> World:
    made, organiser = await open_festival(client, backend.engine)
    world = World(made["slug"], organiser=organiser)
    world.staff = await staff_token(client, organiser, world.slug)
    world.moderator = await staff_token(client, organiser, world.slug, role="moderator")
    other, other_organiser = await open_festival(client, backend.engine)
    world.other_staff = await staff_token(client, other_organiser, other["slug"])
    world.other_qr = (await registered(client, other["slug"]))["ticket"]["qr"]
    world.workshop = str(await programme_session(backend.engine, made["id"], capacity=10))
    people = ["ada", "bo", "cy", "dee", "deleted", "cancelled", "reissued"]
    issued = {name: await registered(client, world.slug, name="Ada") for name in people}
    world.qr = {name: reply["ticket"]["qr"] for name, reply in issued.items()}
    world.qr["forged"] = _tampered(world.qr["cy"])
    world.feed = issued["cy"]["feed_token"]
    async with backend.engine.begin() as connection:
        gone = uuid.UUID(issued["deleted"]["ticket"]["id"])
        assert (await connection.execute(delete(Ticket).where(Ticket.id == gone))).rowcount == 1
    cancelled = auth(issued["cancelled"]["attendee_token"])
    assert (await client.delete("/api/v1/me/registration", headers=cancelled)).status_code == 204
    reissue = auth(issued["reissued"]["attendee_token"])
    assert (await client.post("/api/v1/me/ticket/reissue", headers=reissue)).status_code == 200
    now = utcnow()
    await _behind_the_apps_back(
        backend, made["id"], list_key="festival", result="invalid", live=False, gate=CLASH,
        scanned_at=now, recorded_at=now,
    )  # fmt: skip
    return world


async def _desk(client: httpx.AsyncClient, backend: Backend) -> World:
    made, organiser = await open_festival(client, backend.engine, capacity=2)
    world = World(made["slug"], organiser=organiser)
    world.closed = (
        await open_festival(
            client, backend.engine, registration_opens_at="2099-01-01T00:00:00+00:00"
        )
    )[0]["slug"]
    world.ended = (
        await open_festival(
            client,
            backend.engine,
            registration_opens_at="2020-01-01T00:00:00+00:00",
            registration_closes_at="2020-02-01T00:00:00+00:00",
        )
    )[0]["slug"]
    world.unpublished = (await open_festival(client, backend.engine, publish=False))[0]["slug"]
    now = utcnow()
    await _behind_the_apps_back(
        backend, made["id"], name=CLASH, email="clash-first@example.org", status="cancelled",
        created_at=now, cancelled_at=now,
    )  # fmt: skip
    return world


async def _send(client: httpx.AsyncClient, door: str, call: Call) -> httpx.Response:
    headers, content = dict(call.headers), call.content
    if door == "keyed":
        headers["Idempotency-Key"] = uuid.uuid4().hex
    elif door == "whole":
        content += b" " * (fastlane.MAX_BODY + 1)  # trailing blanks: the same JSON
    return await client.post(call.path, content=content, headers=headers)


def _normalised(response: httpx.Response, world: World) -> str:
    """The body, each value named in the module's docstring replaced by its name."""
    raw = response.text
    names: dict[str, str] = {value: "<festival>" for value in world.varying()}
    body = response.json()
    if isinstance(body, dict):
        for key in ("id", "first_checkin_id", "checked_in_at", "attendee_token", "feed_token"):
            if isinstance(body.get(key), str):
                names[body[key]] = f"<{key}>"
        if isinstance(body.get("ticket"), dict):
            names[body["ticket"]["id"]] = "<ticket.id>"
            names[body["ticket"]["qr"]] = "<ticket.qr>"
    for value in sorted(names, key=len, reverse=True):
        raw = raw.replace(value, names[value])
    return raw


def _seen(response: httpx.Response, world: World) -> tuple[Any, ...]:
    headers = response.headers
    return (
        response.status_code,
        headers.get("content-type"),
        headers.get("accept-post"),
        headers.get("idempotent-replay"),
        _normalised(response, world),
    )


async def _run_table(
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    cases: list[Case],
    worlds: dict[str, World],
) -> None:
    served: list[str] = []
    serve = fastlane._serve

    async def _watched(lane: fastlane.Lane, *args: Any) -> Any:
        served.append(lane.path)
        return await serve(lane, *args)

    monkeypatch.setattr(fastlane, "_serve", _watched)
    for case in cases:
        seen = {}
        for door in DOORS:
            served.clear()
            response = await _send(client, door, case.call(worlds[door]))
            assert (door, len(served)) == (door, int(door == "lane" and case.lane)), case.name
            seen[door] = _seen(response, worlds[door])
        assert seen["lane"][0] == case.status, (case.name, seen["lane"])
        assert seen["keyed"] == seen["lane"], case.name
        assert seen["whole"] == seen["lane"], case.name


async def test_a_scan_is_answered_alike_by_the_lane_and_the_route(
    client: httpx.AsyncClient,
    backend: Backend,
    clashes: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worlds = {door: await _door(client, backend) for door in DOORS}
    await _run_table(client, monkeypatch, SCANS, worlds)


async def test_a_registration_is_answered_alike_by_the_lane_and_the_route(
    client: httpx.AsyncClient,
    backend: Backend,
    clashes: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worlds = {door: await _desk(client, backend) for door in DOORS}
    await _run_table(client, monkeypatch, REGISTRATIONS, worlds)


def test_the_lanes_take_the_body_models_their_routes_declare() -> None:
    """The lane validates with the very model FastAPI validates the route's body with."""
    from fastapi.routing import APIRoute

    from api.routers import checkin, registration

    declared = {
        route.path: route.body_field.field_info.annotation
        for router in (checkin.router, registration.router)
        for route in router.routes
        if isinstance(route, APIRoute) and "POST" in route.methods and route.body_field
    }
    assert {lane.path: lane.body for lane in fastlane.LANES} == {
        lane.path: declared[lane.path] for lane in fastlane.LANES
    }
