"""No public route, export, feed or page of the demo festivals holds a stream URL.

The demo is loaded as ``festival demo`` loads it. Every GET operation of the
app's own OpenAPI document, and every page, is fetched for every demo object
its path can name, by an anonymous reader and by the demo's attendees (whose
agenda feed holds every session), and each reply's body and headers are
searched for each stream URL the demo stores. Only ``GET /sessions/{id}/join``
may hand an attendee a stream: that is its job, and tests/schedule/test_stage.py
checks whom it refuses.
"""

from __future__ import annotations

import itertools
import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from api.cli.demo.loader import load_demo
from api.routers.pages import short_code
from festival.settings import Settings
from schedule.models import Room, Session, Speaker, Track
from tests.conftest import SQLITE_ONLY, Backend
from tests.factories import schedule as sf
from tests.factories.festival import auth

pytestmark = SQLITE_ONLY  # what is written is the same on both databases; one sweep is enough
GATED = "/api/v1/sessions/{session_id}/join"
OWN = "https://video.example.org/w/d6ZiUHJRxpjoZKSeetjSXe"  # one session's own stream


async def _ids(backend: Backend) -> dict[str, list[str]]:
    """Every object of the demo a path can name, by parameter name."""
    async with backend.engine.connect() as db:

        async def ids(model: Any) -> list[str]:
            return [str(i) for i in (await db.execute(select(model.id))).scalars()]

        items = [*await ids(Track), *await ids(Room), *await ids(Speaker)]
        return {"session_id": await ids(Session), "item_id": items}


async def _streams(backend: Backend) -> set[str]:
    async with backend.engine.connect() as db:
        rooms = (await db.execute(select(Room.stream_url))).scalars()
        sessions = (await db.execute(select(Session.stream_url))).scalars()
        return {url for url in itertools.chain(rooms, sessions) if url}


async def _first_session(client: httpx.AsyncClient, slug: str) -> str:
    items = (await client.get(f"{sf.base(slug)}/programme")).json()["items"]
    first: str = items[0]["id"]
    return first


def _paths(
    app: FastAPI, spec: dict[str, Any], slugs: list[str], ids: dict[str, list[str]]
) -> list[str]:
    """Every GET of the API and every page, filled with every object it can name."""
    templates = [p for p, methods in spec["paths"].items() if "get" in methods]
    templates += [
        r.path
        for r in iter_route_contexts(app.routes)
        if r.path not in spec["paths"] and "GET" in (r.methods or set())
    ]
    values = {"slug": slugs, "code": [short_code(uuid.UUID(i)) for i in ids["session_id"]], **ids}
    paths = []
    for template in templates:
        names = re.findall(r"{(\w+)}", template)
        # A name without demo objects (a question, a poll, a device) gets an unknown id.
        choices = [values.get(n, [str(uuid.uuid4())]) for n in names]
        for combo in itertools.product(*choices):
            paths.append(template.format(**dict(zip(names, combo, strict=True))))
    return paths


async def test_no_public_output_of_the_demo_holds_a_stream_url(
    app: FastAPI, client: httpx.AsyncClient, backend: Backend, settings: Settings
) -> None:
    lines = await load_demo(settings)
    organiser = await sf.demo(backend.engine, settings)
    ids = await _ids(backend)
    slugs = sorted({re.sub(r".*/f/", "", line) for line in lines if line.startswith("festival: ")})
    own = await client.patch(
        f"{sf.base(slugs[0])}/sessions/{await _first_session(client, slugs[0])}",
        json={"stream_url": OWN},
        headers=auth(organiser),
    )
    assert own.status_code == 200, own.text
    streams = await _streams(backend)
    # The data that could leak is there: the organisers see every stream.
    rooms = [(await client.get(f"{sf.base(s)}/rooms", headers=auth(organiser))).text for s in slugs]
    assert len(streams) >= 5
    assert OWN in streams
    assert {u for u in streams if any(u in text for text in rooms)} == streams - {OWN}

    attendees = re.findall(r"attendee token \(.*\): (\S+)", "\n".join(lines))
    feeds = re.findall(r"agenda\.ics\?token=(\S+)", "\n".join(lines))
    assert len(attendees) == len(feeds) >= 1  # the festival on now has one
    for token in attendees:  # their agenda feeds hold every session of their festival
        for session_id in ids["session_id"]:
            await client.put(f"/api/v1/me/favourites/{session_id}", headers=auth(token))

    spec = (await client.get("/openapi.json")).json()
    paths = _paths(app, spec, slugs, ids)
    paths += [f"/api/v1/me/agenda.ics?token={feed}" for feed in feeds]
    gated = re.compile("^" + re.escape(GATED).replace(r"\{session_id\}", "[^/]+") + "$")
    leaks: list[str] = []
    fetched = 0
    for path, token in itertools.product(paths, [None, *attendees]):
        if token is not None and gated.match(path):
            continue
        reply = await client.get(path, headers=auth(token) if token else {})
        assert reply.status_code < 500, (path, reply.text[:300])
        fetched += reply.status_code == 200
        seen = (reply.text + repr(reply.headers.raw)).replace("\r\n ", "").replace("\\/", "/")
        # Without the scheme too: a stream is a stream however it is quoted.
        found = [u for u in streams if u.split("://", 1)[1] in seen]
        leaks += [f"{path} ({'attendee' if token else 'anonymous'}): {found}" for _ in found[:1]]
    assert leaks == []
    assert fetched > 300  # pages, the programme, every export, the feeds: not a sweep of 404s
