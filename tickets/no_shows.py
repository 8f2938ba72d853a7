"""No-show seats: a set time after a workshop starts, the seats nobody was scanned
in for go to the people on its seat waiting list.

:func:`release_due` sweeps, at ``now``, every on-site session with seats whose
grace time has passed (``Session.no_show_minutes`` after its start: 10 by
default, null for never) and which has not ended, while someone waits for a
seat in it. Each sweep is claimed per session and start time by a conditional
update of its seat counter (``SessionSeats.no_shows_for``), so every process may
run it at once and each start is swept once: the seats of the people it
promotes are not taken back at the next pass. A sweep releases as many seats
as there are people waiting, of holders without a live check-in at the
session's door (``list_key`` = the session's id), the latest reservations
first; each by the same conditional update as a cancellation (confirmed to
released), and each freed seat goes to the first in line
(:func:`tickets.seats.promote_seat`). Both are written a letter in the same
transaction: the promoted one that the seat is theirs and to come now, the
released one why.

On-site: a session in a physical room or in none, of a festival that is not
online-only (a stream has no door to be scanned at). A session that moved is
swept at its new time (the mark is the start it was swept for); a cancelled
one never. The clock is the caller's: ``festival serve`` runs
:func:`release_forever`, tests pass the time they want.

Not guaranteed: a holder scanned at the door in the instant their seat is
released (the scan read the seat as held) is both admitted and released; and
someone who joins the waiting list after the sweep gets no seat of it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from festival import effects
from festival.db import utcnow
from festival.models import Festival
from schedule.models import Room, Session
from tickets import letters, outbox, queries, seats
from tickets.models import Checkin, Registration, SeatReservation, SessionSeats, Ticket

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Sweep:
    """A session due for its sweep, with what its letters say."""

    programme: Session
    festival: Festival
    room: str | None

    def fill(self) -> dict[str, str]:
        zone = ZoneInfo(self.festival.timezone)
        minutes = self.programme.no_show_minutes or 0
        deadline = self.programme.starts_at + timedelta(minutes=minutes)
        return {
            "title": self.programme.title,
            "room": f" ({self.room})" if self.room else "",
            "starts": f"{self.programme.starts_at.astimezone(zone):%H:%M} ({zone.key})",
            "deadline": f"{deadline.astimezone(zone):%H:%M}",
            "minutes": str(minutes),
        }


async def release_due(session: AsyncSession, now: datetime) -> int:
    """Sweep every session due at ``now`` (see the module); how many seats changed hands."""
    rows = (
        await session.execute(
            select(Session, Festival, Room.name)
            .join(Festival, Festival.id == Session.festival_id)
            .join(SessionSeats, SessionSeats.session_id == Session.id)
            .outerjoin(Room, Room.id == Session.room_id)
            .where(
                Festival.published_at.is_not(None),
                Festival.mode != "online",
                Session.status == "scheduled",
                Session.capacity.is_not(None),
                Session.no_show_minutes.is_not(None),
                Session.starts_at <= now,
                Session.ends_at > now,
                or_(Room.kind.is_(None), Room.kind == "physical"),
                or_(
                    SessionSeats.no_shows_for.is_(None),
                    SessionSeats.no_shows_for != Session.starts_at,
                ),
                select(SeatReservation.id)
                .where(
                    SeatReservation.session_id == Session.id,
                    SeatReservation.status == "waitlisted",
                )
                .exists(),
            )
            .order_by(Session.starts_at, Session.id)
        )
    ).all()
    moved = 0
    for programme, festival, room in rows:
        grace = timedelta(minutes=programme.no_show_minutes or 0)
        if programme.starts_at + grace > now or not await _claim(session, programme):
            continue
        moved += await _sweep(session, _Sweep(programme, festival, room), now)
    return moved


async def _claim(session: AsyncSession, programme: Session) -> bool:
    """Mark the session swept for its start; False if a sweep of that start was
    claimed first (PostgreSQL re-checks the mark after the row lock; SQLite has
    one writer)."""
    claimed = await session.execute(
        update(SessionSeats)
        .where(
            SessionSeats.session_id == programme.id,
            or_(
                SessionSeats.no_shows_for.is_(None),
                SessionSeats.no_shows_for != programme.starts_at,
            ),
        )
        .values(no_shows_for=programme.starts_at)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


async def _sweep(session: AsyncSession, sweep: _Sweep, now: datetime) -> int:
    session_id = sweep.programme.id
    waiting = await session.scalar(
        select(func.count()).where(
            SeatReservation.session_id == session_id, SeatReservation.status == "waitlisted"
        )
    )
    absent = (await session.execute(_no_shows(session_id).limit(waiting or 0))).all()
    fill = sweep.fill()

    async def come_now(session: AsyncSession, promoted: SeatReservation) -> None:
        await _tell(session, sweep, promoted.registration_id, "come_now", fill)
        notice = {
            "kind": "seat.confirmed",
            "session_id": str(session_id),
            "title": sweep.programme.title,
            "text": f"A seat in {sweep.programme.title!r} is yours: come now.",
        }
        effects.tell_attendee(session, promoted.registration_id, notice)  # on their live page

    moved = 0
    for reservation_id, registration_id in absent:
        if not await queries.change_status(
            session, SeatReservation, reservation_id, "confirmed", "released", released_at=now
        ):
            continue  # released meanwhile (cancelled, or the holder let it go)
        await queries.release_seat(session, session_id)
        await _tell(session, sweep, registration_id, "no_show", fill)
        moved += 1
        if await seats.promote_seat(session, session_id, come_now) is None:
            break  # nobody left who can take it (the capacity was lowered meanwhile)
    return moved


def _no_shows(session_id: uuid.UUID) -> Select[uuid.UUID, uuid.UUID]:
    """Confirmed seats of the session whose holders have no live check-in at its
    door, the latest reserved first."""
    scanned = (
        select(Checkin.id)
        .join(Ticket, Ticket.id == Checkin.ticket_id)
        .where(
            Ticket.registration_id == SeatReservation.registration_id,
            Checkin.list_key == str(session_id),
            Checkin.live.is_(True),
        )
        .exists()
    )
    return (
        select(SeatReservation.id, SeatReservation.registration_id)
        .where(
            SeatReservation.session_id == session_id,
            SeatReservation.status == "confirmed",
            ~scanned,
        )
        .order_by(SeatReservation.created_at.desc(), SeatReservation.id)
    )


async def _tell(
    session: AsyncSession,
    sweep: _Sweep,
    registration_id: uuid.UUID,
    kind: str,
    fill: dict[str, str],
) -> None:
    name, email = (
        await session.execute(
            select(Registration.name, Registration.email).where(Registration.id == registration_id)
        )
    ).one()
    letter = letters.seat_letter(
        kind,
        festival_id=sweep.festival.id,
        registration_id=registration_id,
        person_name=name,
        to=email,
        **fill,
    )
    await outbox.post(session, letter)


async def release_forever(
    sessionmaker: async_sessionmaker[AsyncSession], *, every: float = 30.0
) -> None:
    """Run :func:`release_due` every ``every`` seconds until cancelled."""
    while True:
        await asyncio.sleep(every)
        try:
            async with sessionmaker() as session, session.begin():
                moved = await release_due(session, utcnow())
            if moved:
                await outbox.wake_senders()
        except SQLAlchemyError as exc:  # the database is away: next time
            log.warning("no-show seats not released: %r", exc)
