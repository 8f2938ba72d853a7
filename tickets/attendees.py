"""The attendee behind a token, and what ``GET /me`` shows them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.models import Festival
from tickets import issuing, queries, questions
from tickets.errors import NotConfirmed, RegistrationNotFound
from tickets.models import Favourite, Registration
from tickets.schemas import MeRead, MeUpdate, SeatRead


@dataclass(frozen=True)
class Attendee:
    """An attendee's registration with its festival."""

    registration: Registration
    festival: Festival


async def attendee(session: AsyncSession, principal: Principal) -> Attendee:
    """The principal's own registration; gone or foreign is ``RegistrationNotFound``."""
    row = (
        await session.execute(
            select(Registration, Festival)
            .join(Festival, Festival.id == Registration.festival_id)
            .where(queries.visible_registrations(principal))
        )
    ).first()
    if row is None:
        raise RegistrationNotFound("No registration for this token")
    return Attendee(registration=row[0], festival=row[1])


async def confirmed_attendee(session: AsyncSession, principal: Principal) -> Attendee:
    me = await attendee(session, principal)
    if me.registration.status != "confirmed":
        raise NotConfirmed(f"The registration is {me.registration.status}, not confirmed")
    return me


async def me(session: AsyncSession, principal: Principal) -> MeRead:
    """The attendee's registration, ticket, seats and favourites."""
    found = await attendee(session, principal)
    registration = found.registration
    position = None
    if registration.status == "waitlisted":
        position = await session.scalar(
            queries.waitlist_position(
                registration.festival_id, registration.waitlist_seq, registration.participation
            )
        )
    ticket = await session.scalar(queries.ticket_of(registration.id))
    ticket_read = None
    if ticket is not None and ticket.revoked_at is None:
        ticket_read = await issuing.ticket_read(session, ticket)
    seats = []
    for reservation in (await session.scalars(queries.active_seats(registration.id))).all():
        seat_position = None
        if reservation.status == "waitlisted":
            seat_position = await session.scalar(queries.seat_position(reservation))
        seats.append(
            SeatRead(
                session_id=reservation.session_id,
                status="confirmed" if reservation.status == "confirmed" else "waitlisted",
                waitlist_position=seat_position,
            )
        )
    favourites = await session.scalars(
        select(Favourite.session_id)
        .where(Favourite.registration_id == registration.id)
        .order_by(Favourite.created_at)
    )
    return MeRead(
        id=registration.id,
        festival=found.festival.slug,
        festival_id=found.festival.id,
        name=registration.name,
        email=registration.email,
        organisation=registration.organisation,
        country=registration.country,
        status=registration.status,
        participation=registration.participation,
        waitlist_position=position,
        ticket=ticket_read,
        seats=seats,
        favourites=list(favourites.all()),
        reminders=registration.reminders,
        answers=await questions.answers_of(session, registration.id),
        created_at=registration.created_at,
    )


async def update_me(session: AsyncSession, principal: Principal, data: MeUpdate) -> MeRead:
    """Change what the attendee may change of their own registration: reminders here,
    the line by :func:`tickets.participation.update_me`, which calls this."""
    found = await attendee(session, principal)
    if data.reminders is not None:
        found.registration.reminders = data.reminders
        await session.flush()
    if data.answers is not None:
        await questions.change(session, found.festival, found.registration, data.answers)
    return await me(session, principal)
