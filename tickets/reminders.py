"""Reminders: an e-mail a set time before each session an attendee saved or holds
a seat for (the festival's ``reminder_minutes``, 15 by default; 0 turns them off).

:func:`send_due` writes the reminders that are due at ``now``: for every
scheduled session starting within the festival's lead time, one letter per
confirmed attendee who saved it or holds a seat and has not turned reminders
off. What was written is recorded per person, session and start time
(``reminders_sent``) by an insert that skips what exists, in the same
transaction as the letters, so every process may run it at once and each
reminder is written once; a session that moves is reminded of at its new time,
and a cancelled one is not. The clock is the caller's: ``festival serve`` runs
:func:`remind_forever`, tests pass the time they want.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import literal, select, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from festival.db import utcnow
from festival.models import Festival
from schedule.models import Room, Session
from tickets import outbox
from tickets.models import Favourite, Registration, ReminderSent, SeatReservation

log = logging.getLogger(__name__)
LONGEST_LEAD = timedelta(days=1)  # reminder_minutes is at most 1,440


async def send_due(session: AsyncSession, now: datetime, *, base_url: str) -> int:
    """Write every reminder due at ``now`` (see the module); how many."""
    due = (
        await session.execute(
            select(Session, Festival, Room.stream_url)
            .join(Festival, Festival.id == Session.festival_id)
            .outerjoin(Room, Room.id == Session.room_id)
            .where(
                Festival.published_at.is_not(None),
                Festival.reminder_minutes > 0,
                Session.status == "scheduled",
                Session.starts_at > now,
                Session.starts_at <= now + LONGEST_LEAD,
            )
        )
    ).all()
    written = 0
    for programme_session, festival, room_stream in due:
        if programme_session.starts_at > now + timedelta(minutes=festival.reminder_minutes):
            continue
        written += await _remind(session, programme_session, festival, room_stream, base_url)
    return written


async def _remind(
    session: AsyncSession,
    programme_session: Session,
    festival: Festival,
    room_stream: str | None,
    base_url: str,
) -> int:
    seated = select(SeatReservation.registration_id.label("id")).where(
        SeatReservation.session_id == programme_session.id, SeatReservation.status == "confirmed"
    )
    liked = select(Favourite.registration_id.label("id")).where(
        Favourite.session_id == programme_session.id
    )
    people = union(seated, liked).subquery()
    wanted = (
        select(
            Registration.id,
            literal(programme_session.id, type_=ReminderSent.session_id.type),
            literal(programme_session.starts_at, type_=ReminderSent.starts_at.type),
            literal(utcnow(), type_=ReminderSent.created_at.type),
        )
        .join(people, people.c.id == Registration.id)
        .where(
            Registration.festival_id == festival.id,
            Registration.status == "confirmed",
            Registration.reminders.is_(True),
        )
    )
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    claimed = (
        (
            await session.execute(
                dialect.insert(ReminderSent)
                .from_select(["registration_id", "session_id", "starts_at", "created_at"], wanted)
                .on_conflict_do_nothing()
                .returning(ReminderSent.registration_id)
            )
        )
        .scalars()
        .all()
    )
    if not claimed:
        return 0
    people_rows = (
        await session.execute(
            select(Registration.id, Registration.name, Registration.email).where(
                Registration.id.in_(claimed)
            )
        )
    ).all()
    letters = [
        _letter(programme_session, festival, room_stream, base_url, registration_id, name, email)
        for registration_id, name, email in people_rows
    ]
    await outbox.post(session, *letters)
    return len(letters)


def _letter(
    programme_session: Session,
    festival: Festival,
    room_stream: str | None,
    base_url: str,
    registration_id: uuid.UUID,
    name: str,
    email: str,
) -> dict[str, Any]:
    local = programme_session.starts_at.astimezone(ZoneInfo(festival.timezone))
    lines = [
        f"Hello {name},",
        "",
        f"{programme_session.title!r} starts at {local:%H:%M} ({festival.timezone}) "
        f"on {local:%A %d %B}.",
    ]
    online = programme_session.stream_url or room_stream or programme_session.live_qa
    if online:
        lines += ["", f"Join it here: {base_url.rstrip('/')}/live/{programme_session.id}"]
    lines += [
        "",
        "You get this because you saved the session or hold a seat in it; turn reminders "
        "off on your ticket page.",
    ]
    return outbox.message(
        festival_id=festival.id,
        registration_id=registration_id,
        kind="session.reminder",
        to=email,
        subject=f"Starting soon: {programme_session.title}"[:300],
        body="\n".join(lines) + "\n",
    )


async def remind_forever(
    sessionmaker: async_sessionmaker[AsyncSession], *, base_url: str, every: float = 30.0
) -> None:
    """Run :func:`send_due` every ``every`` seconds until cancelled."""
    while True:
        try:
            async with sessionmaker() as session, session.begin():
                written = await send_due(session, utcnow(), base_url=base_url)
            if written:
                await outbox.wake_senders()
        except SQLAlchemyError as exc:  # the database is away: next time
            log.warning("reminders not written: %r", exc)
        await asyncio.sleep(every)
