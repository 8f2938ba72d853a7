"""Factories for the programme: tracks, rooms, speakers, sessions (via the API or in bulk)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from festival.db import make_sessionmaker, unit_of_work
from schedule.models import Room, Session, Speaker, Track, session_speakers
from tests.factories.festival import auth


def base(slug: str) -> str:
    return f"/api/v1/festivals/{slug}"


async def post(
    client: httpx.AsyncClient, token: str, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def track(client: httpx.AsyncClient, token: str, slug: str, **body: Any) -> dict[str, Any]:
    body.setdefault("name", f"Track {uuid.uuid4().hex[:6]}")
    return await post(client, token, f"{base(slug)}/tracks", body)


async def room(client: httpx.AsyncClient, token: str, slug: str, **body: Any) -> dict[str, Any]:
    body.setdefault("name", f"Room {uuid.uuid4().hex[:6]}")
    return await post(client, token, f"{base(slug)}/rooms", body)


async def speaker(client: httpx.AsyncClient, token: str, slug: str, **body: Any) -> dict[str, Any]:
    body.setdefault("name", f"Speaker {uuid.uuid4().hex[:6]}")
    return await post(client, token, f"{base(slug)}/speakers", body)


def session_body(starts_at: str, ends_at: str, **body: Any) -> dict[str, Any]:
    body.setdefault("title", f"Session {uuid.uuid4().hex[:6]}")
    body.setdefault("format", "talk")
    return {"starts_at": starts_at, "ends_at": ends_at, **body}


async def session(
    client: httpx.AsyncClient, token: str, slug: str, starts_at: str, ends_at: str, **body: Any
) -> dict[str, Any]:
    return await post(
        client, token, f"{base(slug)}/sessions", session_body(starts_at, ends_at, **body)
    )


async def bulk_programme(
    engine: AsyncEngine,
    festival_id: uuid.UUID | str,
    *,
    sessions: int,
    rooms: int,
    speakers: int,
    tracks: int = 5,
    first_day: datetime = datetime(2030, 10, 8, 7, 0, tzinfo=UTC),
    days: int = 2,
) -> None:
    """A large valid programme written straight to the database (no clashes).

    Sessions fill rooms in 15-minute slots from 09:00 local; each has one or
    two speakers, chosen so that no speaker is in two rooms at once.
    """
    fid = uuid.UUID(str(festival_id))
    now = datetime.now(UTC)
    track_rows = [
        {
            "id": uuid.uuid4(),
            "festival_id": fid,
            "name": f"Track {i}",
            "colour": f"#{i * 40 % 256:02x}8844",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(tracks)
    ]
    room_rows = [
        {
            "id": uuid.uuid4(),
            "festival_id": fid,
            "name": f"Room {i:02d}",
            "kind": "virtual" if i % 4 == 0 else "physical",
            "stream_url": f"https://stream.example.org/room-{i}" if i % 4 == 0 else None,
            "capacity": 100,
            "position": i,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(rooms)
    ]
    speaker_rows = [
        {
            "id": uuid.uuid4(),
            "festival_id": fid,
            "name": f"Speaker {i}",
            "organisation": f"Org {i % 37}",
            "bio": "Works on digital development.",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(speakers)
    ]
    session_rows, links = [], []
    slots_per_day = max(1, -(-sessions // (rooms * days)))
    for n in range(sessions):
        room_index = n % rooms
        slot = n // rooms
        day, slot_in_day = divmod(slot, slots_per_day)
        start = first_day + timedelta(days=day, minutes=15 * slot_in_day)
        sid = uuid.uuid4()
        session_rows.append(
            {
                "id": sid,
                "festival_id": fid,
                "title": f"Session {n}: digital innovation, part {n % 7}",
                "abstract": "Digital journeys; with commas, semicolons, accents: café.",
                "format": ("talk", "workshop", "panel", "keynote")[n % 4],
                "track_id": track_rows[n % tracks]["id"],
                "room_id": room_rows[room_index]["id"],
                "starts_at": start,
                "ends_at": start + timedelta(minutes=12),
                "capacity": 30 if n % 4 == 1 else None,
                "live_qa": n % 5 == 0,
                "language": "en",
                "stream_url": None,
                "status": "scheduled",
                "sequence": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
        # Speakers by (slot, room): a speaker belongs to one room, so never clashes.
        per_room = max(1, speakers // rooms)
        first = room_index * per_room + (slot % per_room)
        links.append(
            {"session_id": sid, "speaker_id": speaker_rows[first % speakers]["id"], "position": 0}
        )
        if per_room > 1 and n % 3 == 0:
            second = room_index * per_room + ((slot + 1) % per_room)
            links.append(
                {
                    "session_id": sid,
                    "speaker_id": speaker_rows[second % speakers]["id"],
                    "position": 1,
                }
            )
    async with unit_of_work(make_sessionmaker(engine)) as db:
        for model, rows in (
            (Track, track_rows),
            (Room, room_rows),
            (Speaker, speaker_rows),
            (Session, session_rows),
        ):
            if rows:
                await db.execute(insert(model), rows)
        if links:
            await db.execute(insert(session_speakers), links)


async def demo(engine: AsyncEngine, settings: Any) -> str:
    """The demo organiser and festivals with their programme; returns an organiser token."""
    from api.cli.demo import loader as demo_module
    from api.cli.demo import programme as demo_programme
    from festival.auth import issue_token

    async with unit_of_work(make_sessionmaker(engine)) as db:
        owner = await demo_module._organiser(db)
        festivals = await demo_module._festivals(db, owner)
        await demo_programme.load(db, owner, festivals, settings)
        _, raw = await issue_token(db, "organiser", account_id=owner.id)
    return raw


async def organiser(engine: AsyncEngine) -> tuple[uuid.UUID, str]:
    """A committed organiser and a bearer token, without hashing a password.

    Like :func:`tests.factories.festival.organiser`, minus argon2 (tens of
    milliseconds a call), since programme tests never sign in with a password.
    """
    from festival.auth import issue_token
    from festival.models import Account

    async with unit_of_work(make_sessionmaker(engine)) as db:
        account = Account(
            id=uuid.uuid4(), email=f"org-{uuid.uuid4().hex[:8]}@example.org", password_hash="!"
        )
        db.add(account)
        await db.flush()
        _, raw = await issue_token(db, "organiser", account_id=account.id)
    return account.id, raw
