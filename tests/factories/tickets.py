"""Factories for tickets: open festivals, registrations, staff tokens, sessions."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from festival.auth import issue_token
from festival.db import make_sessionmaker, unit_of_work
from festival.models import Account
from schedule.models import Room, Session
from tests.factories.festival import auth, festival
from tickets.models import OutboxMessage

DAY_ONE = datetime(2030, 10, 8, 8, 0, tzinfo=UTC)
# A confirmation link in a letter: the server, the festival, the code.
LINK = re.compile(r"(\S+)/f/([^/\s]+)/confirm#code=(fc_[A-Za-z0-9_-]+)")


async def fast_organiser(engine: AsyncEngine) -> str:
    """A committed organiser and its bearer token, skipping the (slow) password hash."""
    async with unit_of_work(make_sessionmaker(engine)) as session:
        account = Account(
            id=uuid.uuid4(),
            email=f"org-{uuid.uuid4().hex[:8]}@example.org",
            password_hash="not-a-hash: this organiser signs in with a token only",
        )
        session.add(account)
        await session.flush()
        _, raw = await issue_token(session, "organiser", account_id=account.id)
    return raw


async def open_festival(
    client: httpx.AsyncClient, engine: AsyncEngine, **overrides: Any
) -> tuple[dict[str, Any], str]:
    """A published festival with registration open, and its organiser's token."""
    token = await fast_organiser(engine)
    made = await festival(client, token, **overrides)
    return made, token


async def register(
    client: httpx.AsyncClient,
    slug: str,
    *,
    name: str | None = None,
    email: str | None = None,
    headers: dict[str, str] | None = None,
    participation: str | None = None,
) -> httpx.Response:
    tag = uuid.uuid4().hex[:8]
    body = {"name": name or f"Attendee {tag}", "email": email or f"a-{tag}@example.org"}
    if participation is not None:
        body["participation"] = participation
    return await client.post(f"/api/v1/festivals/{slug}/registrations", json=body, headers=headers)


async def registered(client: httpx.AsyncClient, slug: str, **kwargs: Any) -> dict[str, Any]:
    response = await register(client, slug, **kwargs)
    assert response.status_code == 201, response.text
    reply: dict[str, Any] = response.json()
    return reply


async def staff_token(
    client: httpx.AsyncClient, organiser_token: str, slug: str, role: str = "checkin"
) -> str:
    response = await client.post(
        f"/api/v1/festivals/{slug}/staff-tokens",
        json={"role": role, "label": "Gate A"},
        headers=auth(organiser_token),
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def checkin_door(
    client: httpx.AsyncClient, engine: AsyncEngine, **overrides: Any
) -> dict[str, Any]:
    """An open festival and a check-in staff token for it: its ``slug`` and ``id``,
    the ``organiser``'s token and the ``staff`` token."""
    made, token = await open_festival(client, engine, **overrides)
    staff = await staff_token(client, token, made["slug"])
    return {"slug": made["slug"], "id": made["id"], "organiser": token, "staff": staff}


def running_now() -> dict[str, str]:
    """The dates of a festival on today in its zone (``festival_body``'s): offline
    scans are taken only within a festival's days and never from the future."""
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    starts, ends = today - timedelta(days=1), today + timedelta(days=1)
    return {"starts_on": starts.isoformat(), "ends_on": ends.isoformat()}


async def scanner_device(
    client: httpx.AsyncClient, staff: str, slug: str, name: str = "Tablet"
) -> str:
    """A scanner device registered by the check-in token ``staff``; its id, for syncs."""
    response = await client.post(
        f"/api/v1/festivals/{slug}/devices", json={"name": name}, headers=auth(staff)
    )
    assert response.status_code == 201, response.text
    device: str = response.json()["id"]
    return device


async def programme_session(
    engine: AsyncEngine,
    festival_id: str,
    *,
    title: str = "Workshop",
    starts_at: datetime = DAY_ONE,
    minutes: int = 90,
    capacity: int | None = None,
    virtual_stream: str | None = None,
) -> uuid.UUID:
    """A session made directly through the ORM (the programme API is not needed)."""
    async with unit_of_work(make_sessionmaker(engine)) as session:
        room_id = None
        if virtual_stream is not None:
            room = Room(
                id=uuid.uuid4(),
                festival_id=uuid.UUID(festival_id),
                name=f"Stage {uuid.uuid4().hex[:6]}",
                kind="virtual",
                stream_url=virtual_stream,
            )
            session.add(room)
            await session.flush()
            room_id = room.id
        made = Session(
            id=uuid.uuid4(),
            festival_id=uuid.UUID(festival_id),
            title=title,
            format="workshop",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes),
            capacity=capacity,
            room_id=room_id,
        )
        session.add(made)
    return made.id


async def letters_to(engine: AsyncEngine, email: str) -> list[OutboxMessage]:
    async with unit_of_work(make_sessionmaker(engine)) as session:
        found = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.to_address == email)
            .order_by(OutboxMessage.created_at)
        )
        return list(found)


async def link_to(engine: AsyncEngine, email: str) -> str:
    """The code of the newest confirmation link e-mailed to ``email``."""
    found = [m for m in await letters_to(engine, email) if m.kind == "registration.confirm"]
    match = LINK.search(found[-1].body)
    assert match is not None, found[-1].body
    return match.group(3)


def zbar_decode(image: Image.Image) -> list[Any]:
    """The QR codes zbar reads in ``image``; fails (not skips) this test where zbar is missing.

    Imported here, not at the top: a machine without libzbar0 loses this test,
    not the collection of the whole suite.
    """
    try:
        from pyzbar.pyzbar import decode
    except ImportError as exc:  # pyzbar raises ImportError when the shared library is absent
        pytest.fail(f"zbar is missing ({exc}): apt-get install libzbar0 (make test installs it)")
    found: list[Any] = decode(image)
    return found
