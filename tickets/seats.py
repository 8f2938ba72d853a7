"""Workshop seats and favourites of an attendee."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.db import utcnow
from festival.errors import Conflict, NotFound
from schedule.models import Session
from tickets import attendees, outbox, queries, window
from tickets.errors import NoSeats, SeatClash
from tickets.models import Favourite, Registration, SeatReservation, SessionSeats
from tickets.schemas import SeatRead


async def _festival_session(
    session: AsyncSession, festival_id: uuid.UUID, session_id: uuid.UUID
) -> Session:
    found = await session.get(Session, session_id)
    if found is None or found.festival_id != festival_id:
        raise NotFound("No such session in this festival", field="session_id")
    return found


async def _seat_read(session: AsyncSession, reservation: SeatReservation) -> SeatRead:
    position = None
    if reservation.status == "waitlisted":
        position = await session.scalar(queries.seat_position(reservation))
    return SeatRead(
        session_id=reservation.session_id,
        status="confirmed" if reservation.status == "confirmed" else "waitlisted",
        waitlist_position=position,
    )


async def reserve(
    session: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    *,
    at: datetime | None = None,
) -> SeatRead:
    """Reserve a seat in a session with a capacity: confirmed while seats remain
    (a conditional update of the session's counter), else waitlisted. Reserving
    twice returns the reservation held; a session overlapping another reserved
    one is ``SeatClash`` naming it. A new reservation in a session that has
    ended, or once the festival has, is ``SeatsClosed`` (:mod:`tickets.window`).
    ``at`` is when the reservation is made, now unless given (the demo's past
    festivals give it)."""
    me = await attendees.confirmed_attendee(session, principal)
    programme = await _festival_session(session, me.festival.id, session_id)
    if programme.capacity is None:
        raise NoSeats(f"{programme.title!r} has no seats to reserve", field="session_id")
    if programme.status == "cancelled":
        raise Conflict(f"{programme.title!r} is cancelled", field="session_id")
    held = await session.scalar(
        select(SeatReservation).where(
            SeatReservation.registration_id == me.registration.id,
            SeatReservation.session_id == session_id,
            SeatReservation.status != "released",
        )
    )
    if held is not None:
        return await _seat_read(session, held)
    window.ensure_seats_open(me.festival, programme, at or utcnow())
    clash = await session.scalar(queries.overlapping_reservation(me.registration.id, programme))
    if clash is not None:
        raise SeatClash(
            f"Overlaps {clash.title!r}, which you already reserved",
            field="session_id",
            session_id=str(clash.id),
            session_title=clash.title,
        )
    await queries.insert_ignoring_conflict(
        session, SessionSeats, session_id=session_id, taken=0, waitlist_seq=0
    )
    reservation = SeatReservation(
        id=uuid.uuid4(), registration_id=me.registration.id, session_id=session_id
    )
    if await queries.claim_seat(session, session_id):
        reservation.status = "confirmed"
    else:
        reservation.status = "waitlisted"
        reservation.waitlist_seq = await queries.next_seat_seq(session, session_id)
    try:
        async with session.begin_nested():
            session.add(reservation)
    except IntegrityError as exc:  # the same attendee, twice at once
        raise Conflict("This seat is being reserved by another request") from exc
    return await _seat_read(session, reservation)


async def release(session: AsyncSession, principal: Principal, session_id: uuid.UUID) -> None:
    """Release a seat (or leave its waiting list); releasing twice changes nothing."""
    me = await attendees.attendee(session, principal)
    await _festival_session(session, me.festival.id, session_id)
    held = await session.scalar(
        select(SeatReservation).where(
            SeatReservation.registration_id == me.registration.id,
            SeatReservation.session_id == session_id,
            SeatReservation.status != "released",
        )
    )
    if held is not None:
        await _release(session, held)


async def release_all(session: AsyncSession, registration_id: uuid.UUID) -> None:
    for held in (await session.scalars(queries.active_seats(registration_id))).all():
        await _release(session, held)


async def _release(session: AsyncSession, held: SeatReservation) -> None:
    now = utcnow()
    if await queries.change_status(
        session, SeatReservation, held.id, "confirmed", "released", released_at=now
    ):
        await queries.release_seat(session, held.session_id)
        await promote_seat(session, held.session_id)
    else:
        await queries.change_status(
            session, SeatReservation, held.id, "waitlisted", "released", released_at=now
        )


Tell = Callable[[AsyncSession, SeatReservation], Awaitable[None]]


async def promote_seat(
    session: AsyncSession, session_id: uuid.UUID, tell: Tell | None = None
) -> SeatReservation | None:
    """Give a free seat to the first on the session's waiting list (see
    :func:`tickets.waitlist.promote` for why a lost candidate is skipped), and
    ``tell`` them (by default the letter that a seat came free)."""
    while True:
        candidate = await session.scalar(queries.first_seat_waitlisted(session_id))
        if candidate is None or not await queries.claim_seat(session, session_id):
            return None
        if await queries.change_status(
            session, SeatReservation, candidate.id, "waitlisted", "confirmed"
        ):
            await (tell or _tell_promoted)(session, candidate)
            return candidate
        await queries.release_seat(session, session_id)


async def _tell_promoted(session: AsyncSession, reservation: SeatReservation) -> None:
    row = (
        await session.execute(
            select(Registration.name, Registration.email, Session.title, Session.festival_id)
            .join(Session, Session.id == reservation.session_id)
            .where(Registration.id == reservation.registration_id)
        )
    ).one()
    name, email, title, festival_id = row
    letter = outbox.message(
        festival_id=festival_id,
        registration_id=reservation.registration_id,
        kind="seat.promoted",
        to=email,
        subject=f"A seat for you: {title}",
        body=f"Hello {name},\n\nA seat came free in {title!r}: it is yours.\n",
    )
    await outbox.post(session, letter)


async def add_favourite(session: AsyncSession, principal: Principal, session_id: uuid.UUID) -> None:
    """Favourite a session for the personal agenda (idempotent)."""
    me = await attendees.attendee(session, principal)
    await _festival_session(session, me.festival.id, session_id)
    await queries.insert_ignoring_conflict(
        session,
        Favourite,
        registration_id=me.registration.id,
        session_id=session_id,
        created_at=utcnow(),
    )


async def remove_favourite(
    session: AsyncSession, principal: Principal, session_id: uuid.UUID
) -> None:
    """Unfavourite a session of the attendee's festival; one not favourited changes nothing.

    Another festival's session is ``NotFound``, as when favouriting it: the
    delete would touch only the caller's own rows, but a ``204`` would tell the
    caller the id means something here.
    """
    me = await attendees.attendee(session, principal)
    await _festival_session(session, me.festival.id, session_id)
    await session.execute(
        delete(Favourite).where(
            Favourite.registration_id == me.registration.id, Favourite.session_id == session_id
        )
    )
