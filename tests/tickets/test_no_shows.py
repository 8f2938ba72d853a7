"""No-show seats go to the people waiting, under a clock the test controls (issue 19)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from festival.db import make_sessionmaker, unit_of_work
from tests.conftest import Backend
from tests.factories.festival import auth
from tests.factories.tickets import (
    DAY_ONE,
    open_festival,
    programme_session,
    registered,
    staff_token,
)
from tickets import no_shows
from tickets.models import OutboxMessage


async def _sweep(engine: AsyncEngine, now: datetime) -> int:
    async with unit_of_work(make_sessionmaker(engine)) as session:
        return await no_shows.release_due(session, now)


async def _seat_letters(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    """Every seat letter written: (kind, to, body), by address."""
    async with make_sessionmaker(engine)() as session:
        rows = await session.execute(
            select(OutboxMessage.kind, OutboxMessage.to_address, OutboxMessage.body)
            .where(OutboxMessage.kind.in_(("seat.no_show", "seat.come_now")))
            .order_by(OutboxMessage.to_address, OutboxMessage.kind)
        )
        return [(kind, to, body) for kind, to, body in rows.all()]


async def _seated(
    client: httpx.AsyncClient, slug: str, workshop: uuid.UUID, name: str
) -> dict[str, Any]:
    """A registration that asked for a seat in ``workshop`` (held or waiting)."""
    person = await registered(client, slug, name=name, email=f"{name.lower()}@example.org")
    reply = await client.put(f"/api/v1/me/seats/{workshop}", headers=auth(person["attendee_token"]))
    assert reply.status_code == 200, reply.text
    return person


async def _seats(client: httpx.AsyncClient, person: dict[str, Any]) -> list[dict[str, Any]]:
    me = await client.get("/api/v1/me", headers=auth(person["attendee_token"]))
    seats: list[dict[str, Any]] = me.json()["seats"]
    return seats


async def test_unscanned_seats_go_to_the_waiting_list_in_order_once(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, organiser = await open_festival(client, backend.engine, mode="onsite")
    slug = made["slug"]
    workshop = await programme_session(backend.engine, made["id"], title="Soil sensors", capacity=3)
    ada, bob, cy = [await _seated(client, slug, workshop, n) for n in ("Ada", "Bob", "Cy")]
    dee, eve, fay = [await _seated(client, slug, workshop, n) for n in ("Dee", "Eve", "Fay")]
    door = await staff_token(client, organiser, slug)
    scan = await client.post(
        f"/api/v1/festivals/{slug}/checkins",
        json={"qr": ada["ticket"]["qr"], "list": str(workshop)},
        headers=auth(door),
    )
    assert scan.json()["result"] == "ok"

    assert await _sweep(backend.engine, DAY_ONE + timedelta(minutes=9)) == 0
    assert await _seat_letters(backend.engine) == []
    due = DAY_ONE + timedelta(minutes=11)
    moved = await asyncio.gather(_sweep(backend.engine, due), _sweep(backend.engine, due))
    assert sum(moved) == 2
    assert await _sweep(backend.engine, DAY_ONE + timedelta(minutes=40)) == 0

    held = {"session_id": str(workshop), "status": "confirmed", "waitlist_position": None}
    assert await _seats(client, ada) == [held]  # scanned: kept
    assert await _seats(client, bob) == []
    assert await _seats(client, cy) == []
    assert await _seats(client, dee) == [held]  # first in line
    assert await _seats(client, eve) == [held]
    assert await _seats(client, fay) == [
        {"session_id": str(workshop), "status": "waitlisted", "waitlist_position": 1}
    ]
    stats = await client.get(f"/api/v1/festivals/{slug}/checkins/stats", headers=auth(door))
    occupancy = [(d["checked_in"], d["capacity"], d["waiting"]) for d in stats.json()["lists"]]
    assert occupancy == [(0, None, 0), (1, 3, 1)]  # the entrance, the workshop door
    letters = await _seat_letters(backend.engine)
    assert [(kind, to) for kind, to, _ in letters] == [
        ("seat.no_show", "bob@example.org"),
        ("seat.no_show", "cy@example.org"),
        ("seat.come_now", "dee@example.org"),
        ("seat.come_now", "eve@example.org"),
    ]
    released, come = letters[0][2], letters[2][2]
    assert "not scanned in at its door by 10:10, 10 minutes after the start" in released
    assert "went to someone on its waiting list" in released
    assert "it is yours, confirmed" in come
    assert "come now" in come


async def test_the_organisers_grace_time_and_a_moved_session(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, organiser = await open_festival(client, backend.engine, mode="onsite")
    slug = made["slug"]
    workshop = await programme_session(backend.engine, made["id"], capacity=1)
    holder = await _seated(client, slug, workshop, "Holder")
    waiting = await _seated(client, slug, workshop, "Waiting")
    url = f"/api/v1/festivals/{slug}/sessions/{workshop}"
    too_short = await client.patch(url, json={"no_show_minutes": 0}, headers=auth(organiser))
    assert too_short.status_code == 422
    later = DAY_ONE + timedelta(hours=1)
    moved = await client.patch(
        url,
        json={
            "no_show_minutes": 30,
            "starts_at": later.isoformat(),
            "ends_at": (later + timedelta(minutes=90)).isoformat(),
        },
        headers=auth(organiser),
    )
    assert moved.json()["no_show_minutes"] == 30
    listed = await client.get(f"/api/v1/festivals/{slug}/programme")
    assert [item["no_show_minutes"] for item in listed.json()["items"]] == [30]

    assert await _sweep(backend.engine, DAY_ONE + timedelta(minutes=11)) == 0
    assert await _sweep(backend.engine, later + timedelta(minutes=29)) == 0
    assert await _sweep(backend.engine, later + timedelta(minutes=31)) == 1
    assert await _seats(client, holder) == []
    assert [s["status"] for s in await _seats(client, waiting)] == ["confirmed"]
    letters = await _seat_letters(backend.engine)
    assert "by 11:30, 30 minutes after the start" in letters[0][2]


async def test_cancelled_and_never_released_sessions_keep_their_seats(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, organiser = await open_festival(client, backend.engine, mode="onsite")
    slug = made["slug"]
    cancelled = await programme_session(backend.engine, made["id"], title="Gone", capacity=1)
    kept = await programme_session(
        backend.engine,
        made["id"],
        title="Kept",
        starts_at=DAY_ONE + timedelta(hours=2),
        capacity=1,
    )
    people = [
        await _seated(client, slug, workshop, f"{name}{i}")
        for workshop, name in ((cancelled, "Gone"), (kept, "Kept"))
        for i in range(2)
    ]
    base = f"/api/v1/festivals/{slug}/sessions"
    off = await client.patch(
        f"{base}/{cancelled}", json={"status": "cancelled"}, headers=auth(organiser)
    )
    assert off.status_code == 200
    never = await client.patch(
        f"{base}/{kept}", json={"no_show_minutes": None}, headers=auth(organiser)
    )
    assert never.json()["no_show_minutes"] is None

    assert await _sweep(backend.engine, DAY_ONE + timedelta(minutes=11)) == 0
    assert await _sweep(backend.engine, DAY_ONE + timedelta(hours=2, minutes=11)) == 0
    assert await _seat_letters(backend.engine) == []
    assert [s["status"] for s in await _seats(client, people[2])] == ["confirmed"]
    assert [s["status"] for s in await _seats(client, people[3])] == ["waitlisted"]
