"""Registration use cases: register, cancel, promote from the waiting list, read."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal, issue_token
from festival.db import utcnow
from festival.models import Festival
from festival.service import get_festival
from tickets import attendees, issuing, outbox, queries, seats
from tickets.errors import AlreadyRegistered, RegistrationClosed, RegistrationNotFound
from tickets.models import OutboxMessage, Registration, Ticket
from tickets.schemas import RegistrationCreate, RegistrationIssued, TicketRead


def ensure_open(festival: Festival) -> None:
    if festival.published_at is None:
        raise RegistrationClosed(f"{festival.name} is not published yet")
    now = utcnow()
    opens, closes = festival.registration_opens_at, festival.registration_closes_at
    if opens is not None and now < opens:
        raise RegistrationClosed(f"Registration opens at {opens.isoformat()}")
    if closes is not None and now >= closes:
        raise RegistrationClosed(f"Registration closed at {closes.isoformat()}")


async def register(
    session: AsyncSession, slug: str, data: RegistrationCreate
) -> RegistrationIssued:
    """Register for a published festival whose registration is open.

    Confirmed while a place remains (claimed by a conditional update of the
    festival's counter row), else waitlisted in arrival order. The same e-mail
    twice is ``AlreadyRegistered`` and no secret is handed out again.

    The counter row stays locked from the claim to the commit, and every
    registration of the festival queues on it. So the registration is written
    first as if confirmed (tokens, ticket, letter: invisible until the commit),
    and the claim is the last statement before the commit; only when the
    festival is full is the draft turned into a waiting-list place.
    """
    festival = await get_festival(session, None, slug)
    ensure_open(festival)
    email = data.email.strip().lower()
    if await session.scalar(queries.active_registration_by_email(festival.id, email)):
        raise AlreadyRegistered(f"{email} is already registered", field="email")
    await issuing.ensure_ticketing(session, festival.id)
    if await session.scalar(queries.first_waitlisted(festival.id)) is not None:
        # Places freed while people wait (capacity raised, say) go to them first.
        while await promote(session, festival) is not None:
            pass
    registration = Registration(
        id=uuid.uuid4(),
        festival_id=festival.id,
        name=data.name,
        email=email,
        organisation=data.organisation,
        country=data.country,
        status="confirmed",
        confirmed_at=utcnow(),
    )
    attendee_token, feed_token = await _tokens(session, registration)
    session.add(registration)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same e-mail, registered a moment ago
        raise AlreadyRegistered(f"{email} is already registered", field="email") from exc
    ticket = issuing.new_ticket(session, registration)
    ticket_read = await issuing.ticket_read(session, ticket)
    letter = await _tell(session, festival, registration, "confirmed", ticket_read.qr)
    await session.flush()
    position = None
    if not await queries.claim_place(session, festival.id, registration.id):
        position = await _waitlist(session, festival, registration, ticket, letter)
    return RegistrationIssued(
        id=registration.id,
        status="confirmed" if position is None else "waitlisted",
        waitlist_position=position,
        attendee_token=attendee_token,
        feed_token=feed_token,
        ticket=ticket_read if position is None else None,
    )


async def _waitlist(
    session: AsyncSession,
    festival: Festival,
    registration: Registration,
    ticket: Ticket,
    letter: OutboxMessage,
) -> int:
    """Turn a drafted confirmation into the next waiting-list place; its position."""
    registration.waitlist_seq = await queries.next_waitlist_seq(session, festival.id)
    registration.status, registration.confirmed_at = "waitlisted", None
    await session.delete(ticket)
    letter.kind, letter.subject, letter.body = _letter(festival, registration, "waitlisted", None)
    await session.flush()
    return int(await session.scalar(queries.waitlist_position(registration)) or 0)


async def _tokens(session: AsyncSession, registration: Registration) -> tuple[str, str]:
    """The attendee token (labelled with the attendee's name) and the feed token."""
    secrets = []
    for kind in ("attendee", "feed"):
        _, raw = await issue_token(
            session,
            kind,
            festival_id=registration.festival_id,
            subject_id=registration.id,
            label=registration.name,
        )
        secrets.append(raw)
    return secrets[0], secrets[1]


_MESSAGES = {
    "confirmed": ("Your place at {festival}", "Your registration is confirmed."),
    "waitlisted": (
        "Waiting list for {festival}",
        "The festival is full: you are on the waiting list.",
    ),
    "promoted": (
        "A place for you at {festival}",
        "A place came free: your registration is confirmed.",
    ),
    "cancelled": ("Registration cancelled: {festival}", "Your registration is cancelled."),
}


def _letter(
    festival: Festival, registration: Registration, kind: str, qr: str | None
) -> tuple[str, str, str]:
    """(kind, subject, body) of a message about a registration."""
    subject, text = _MESSAGES[kind]
    body = f"Hello {registration.name},\n\n{text}\n"
    if qr is not None:
        body += f"\nYour ticket (show it as a QR code at the door):\n{qr}\n"
    return f"registration.{kind}", subject.format(festival=festival.name), body


async def _tell(
    session: AsyncSession, festival: Festival, registration: Registration, kind: str, qr: str | None
) -> OutboxMessage:
    kind, subject, body = _letter(festival, registration, kind, qr)
    return await outbox.enqueue(
        session,
        festival_id=festival.id,
        registration_id=registration.id,
        kind=kind,
        to=registration.email,
        subject=subject,
        body=body,
    )


async def cancel(session: AsyncSession, principal: Principal) -> None:
    """Cancel one's registration: the ticket is revoked, seats are released, and a
    freed place goes to the first on the waiting list in the same transaction.
    Cancelling twice changes nothing."""
    me = await attendees.attendee(session, principal)
    registration = me.registration
    now = utcnow()
    if await queries.change_status(
        session, Registration, registration.id, "confirmed", "cancelled", cancelled_at=now
    ):
        await issuing.revoke_ticket(session, registration.id)
        await seats.release_all(session, registration.id)
        await queries.release_place(session, registration.id)
        await promote(session, me.festival)
    elif not await queries.change_status(
        session, Registration, registration.id, "waitlisted", "cancelled", cancelled_at=now
    ):
        return
    await session.refresh(registration)
    await _tell(session, me.festival, registration, "cancelled", None)


async def promote(session: AsyncSession, festival: Festival) -> Registration | None:
    """Give a free place to the first on the waiting list.

    The candidate is taken by a conditional update first, so two racing
    cancellations never promote one person twice: the loser moves on to the
    next. With no place to give (capacity lowered meanwhile) the candidate
    waits on. Places are neither lost nor doubled.
    """
    while True:
        candidate = await session.scalar(queries.first_waitlisted(festival.id))
        if candidate is None or not await queries.has_free_place(session, festival.id):
            return None
        if not await queries.change_status(
            session, Registration, candidate.id, "waitlisted", "confirmed", confirmed_at=utcnow()
        ):
            continue  # promoted by someone else a moment ago
        if not await queries.claim_place(session, festival.id, candidate.id):
            await queries.change_status(
                session, Registration, candidate.id, "confirmed", "waitlisted", confirmed_at=None
            )
            return None
        await session.refresh(candidate)
        ticket = await issuing.issue_ticket(session, candidate)
        qr = await issuing.payload(session, ticket)
        await _tell(session, festival, candidate, "promoted", qr)
        return candidate


async def reissue(session: AsyncSession, principal: Principal) -> TicketRead:
    """A new version of one's ticket; the old payload is refused as ``revoked`` from now on."""
    me = await attendees.attendee(session, principal)
    ticket = await session.scalar(queries.ticket_of(me.registration.id))
    if ticket is None or ticket.revoked_at is not None:
        raise RegistrationNotFound("This registration has no ticket")
    ticket = await issuing.reissue_ticket(session, ticket)
    return await issuing.ticket_read(session, ticket)
