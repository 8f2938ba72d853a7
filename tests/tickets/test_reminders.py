"""Reminders before sessions, under a clock the test controls (issue 17)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from festival.db import make_sessionmaker, unit_of_work, utcnow
from schedule.models import Session
from tests.conftest import Backend, LiveServer
from tests.factories.festival import auth
from tests.factories.tickets import open_festival, programme_session, registered
from tickets import reminders
from tickets.models import Favourite, OutboxMessage, Registration, SeatReservation

BASE = "https://festival.example.org"


async def _crowd(engine: AsyncEngine, festival_id: str, session_id: uuid.UUID, n: int) -> None:
    """``n`` confirmed attendees who saved the session (made in one statement: the
    registration API is not what this tests)."""
    now = utcnow()
    people = [
        {
            "id": uuid.uuid4(),
            "festival_id": uuid.UUID(festival_id),
            "name": f"Person {i}",
            "email": f"p{i}-{session_id.hex[:6]}@example.org",
            "status": "confirmed",
            "confirmed_at": now,
            "created_at": now,
        }
        for i in range(n)
    ]
    async with unit_of_work(make_sessionmaker(engine)) as session:
        await session.execute(insert(Registration), people)
        await session.execute(
            insert(Favourite),
            [
                {"registration_id": p["id"], "session_id": session_id, "created_at": now}
                for p in people
            ],
        )


async def _due(engine: AsyncEngine, now: datetime) -> int:
    async with unit_of_work(make_sessionmaker(engine)) as session:
        return await reminders.send_due(session, now, base_url=BASE)


async def _reminders(engine: AsyncEngine, session_id: uuid.UUID) -> list[tuple[str, str]]:
    async with make_sessionmaker(engine)() as session:
        title = await session.scalar(select(Session.title).where(Session.id == session_id))
        rows = await session.execute(
            select(OutboxMessage.to_address, OutboxMessage.body).where(
                OutboxMessage.kind == "session.reminder",
                OutboxMessage.subject == f"Starting soon: {title}",
            )
        )
        return [(to, body) for to, body in rows]


async def test_a_session_saved_by_500_sends_500_reminders_once_at_the_right_time(
    live_server: LiveServer, backend: Backend
) -> None:
    starts = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        made, _ = await open_festival(client, backend.engine)
        talk = await programme_session(
            backend.engine,
            made["id"],
            title="Open data",
            starts_at=starts,
            virtual_stream="https://example.org/s",
        )
        await _crowd(backend.engine, made["id"], talk, 500)
        # One more holds a seat and turned reminders off; one waits for a place.
        quiet = await registered(client, made["slug"], email="quiet@example.org")
        off = await client.patch(
            "/api/v1/me", json={"reminders": False}, headers=auth(quiet["attendee_token"])
        )
        assert (off.status_code, off.json()["reminders"]) == (200, False)
        seat = await registered(client, made["slug"], email="seat@example.org")
    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        for attendee in (quiet, seat):
            await session.execute(
                insert(SeatReservation).values(
                    id=uuid.uuid4(), registration_id=uuid.UUID(attendee["id"]), session_id=talk,
                    status="confirmed", created_at=utcnow(),
                )
            )  # fmt: skip

    assert await _due(backend.engine, starts - timedelta(minutes=16)) == 0
    # Two processes at the moment it is due: each reminder is written by one of them.
    counts = await asyncio.gather(
        *(_due(backend.engine, starts - timedelta(minutes=14)) for _ in range(2))
    )
    assert sum(counts) == 501
    assert await _due(backend.engine, starts - timedelta(minutes=5)) == 0
    sent = await _reminders(backend.engine, talk)
    assert len(sent) == 501
    assert len({to for to, _ in sent}) == 501
    assert "quiet@example.org" not in {to for to, _ in sent}
    assert all(f"{BASE}/live/{talk}" in body for _, body in sent)


async def test_a_moved_sessions_reminder_moves_and_a_cancelled_one_is_not_sent(
    live_server: LiveServer, backend: Backend
) -> None:
    starts = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        made, _ = await open_festival(client, backend.engine)
    moved = await programme_session(backend.engine, made["id"], title="Moved", starts_at=starts)
    dropped = await programme_session(backend.engine, made["id"], title="Dropped", starts_at=starts)
    for session_id in (moved, dropped):
        await _crowd(backend.engine, made["id"], session_id, 3)
    later = starts + timedelta(hours=1)
    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        await session.execute(
            update(Session)
            .where(Session.id == moved)
            .values(starts_at=later, ends_at=later + timedelta(hours=1))
        )
        await session.execute(
            update(Session).where(Session.id == dropped).values(status="cancelled")
        )

    assert await _due(backend.engine, starts - timedelta(minutes=10)) == 0
    assert await _due(backend.engine, later - timedelta(minutes=10)) == 3
    assert len(await _reminders(backend.engine, moved)) == 3
    assert await _reminders(backend.engine, dropped) == []
    async with make_sessionmaker(backend.engine)() as session:
        total = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "session.reminder")
        )
    assert total == 3
