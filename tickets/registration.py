"""Registration use cases: register, cancel, promote from the waiting list, read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from festival import effects
from festival.auth import Principal, new_token
from festival.db import utcnow
from festival.errors import NotFound
from festival.models import Festival
from tickets import (
    attendees,
    confirmation,
    consent,
    issuing,
    letters,
    outbox,
    participation,
    queries,
    questions,
    seats,
    waitlist,
    window,
)
from tickets.errors import AlreadyRegistered, RegistrationNotFound
from tickets.models import OutboxMessage, Registration, Ticket
from tickets.schemas import RegistrationCreate, RegistrationIssued, TicketRead


@dataclass(frozen=True)
class Desk:
    """What registration reads of a festival first (``queries.REGISTRATION_DESK``)."""

    id: uuid.UUID
    name: str
    published_at: datetime | None
    registration_opens_at: datetime | None
    registration_closes_at: datetime | None
    timezone: str
    ends_on: date
    email_taken: bool
    waiting_onsite: bool
    confirm_email: bool = False
    confirm_hold_minutes: int = 60
    mode: str = "onsite"
    waiting_online: bool = False
    has_questions: bool = False

    def waiting(self, line: str) -> bool:
        """Whether anyone waits in the festival's ``line``."""
        return self.waiting_online if line == "online" else self.waiting_onsite


@dataclass(frozen=True)
class Draft:
    """A registration's rows before they are written, with the secrets to hand out."""

    registration: dict[str, Any]
    tokens: list[dict[str, Any]]
    secrets: tuple[str, str]  # attendee token, feed token
    ticket: dict[str, Any]
    letter: dict[str, Any]
    qr: str

    def issued(self, position: int | None) -> RegistrationIssued:
        ticket = None
        if position is None:
            ticket = TicketRead(id=self.ticket["id"], qr=self.qr, version=1)
        return RegistrationIssued(
            id=self.registration["id"],
            status="confirmed" if position is None else "waitlisted",
            participation=self.registration["participation"],
            waitlist_position=position,
            attendee_token=self.secrets[0],
            feed_token=self.secrets[1],
            ticket=ticket,
        )


async def register(
    session: AsyncSession,
    slug: str,
    data: RegistrationCreate,
    *,
    at: datetime | None = None,
    base_url: str = "",
    may_write: confirmation.MayWrite = confirmation.always,
) -> RegistrationIssued | confirmation.Pending:
    """Register for a published festival whose registration is open.

    Confirmed while a place remains, else waitlisted in arrival order. The same
    e-mail twice is ``AlreadyRegistered`` and no secret is handed out again.
    Outside the registration window (:mod:`tickets.window`: without an
    explicit close, once the festival has ended) it is ``RegistrationClosed``,
    waiting list included. ``at`` is when the registration is taken, now
    unless given: only a loader of registrations made earlier (the demo's past
    festivals) gives it.

    A festival that confirms addresses (``confirm_email``) answers every
    registration alike with :class:`tickets.confirmation.Pending` and e-mails a
    link to ``base_url`` (:func:`tickets.confirmation.ask`), subject to
    ``may_write``.

    Built for a rush of registrations: one read (``queries.REGISTRATION_DESK``),
    then the registration, its two tokens, ticket and letter written as rows by
    statements built once, and the place claimed last (:func:`_enrol`). Only
    when the festival is full is the draft turned into a waiting-list place.
    It needs a transaction (the waiting list undoes the draft); the edge may try
    :func:`register_at_once` first, outside one.
    """
    email, at = data.email.strip().lower(), at or utcnow()
    connection = await session.connection()
    desk = await _desk(connection, slug, email, at)
    form = await questions.of_festival(session, desk.id) if desk.has_questions else ()
    answers = questions.check(form, data.answers)  # before anything is written
    if desk.confirm_email:
        link = confirmation.link_maker(base_url, slug)
        return await confirmation.ask(
            session, desk, data, email, at, link=link, may_write=may_write, answers=answers
        )
    await issuing.ensure_ticketing(session, desk.id)
    if desk.waiting(participation.line_for(desk.mode, data.participation)):
        # Places freed while people wait (capacity raised, say) go to them first.
        await waitlist.promote_all(session, await session.get_one(Festival, desk.id))
    draft = await _draft(session, desk, data, email, at)
    with _already_registered(email):
        placed = await _enrol(session, draft)
    await questions.record(session, draft.registration["id"], answers)
    position = None
    if not placed:
        position = await _waitlist(session, desk, data.name, draft)
    return draft.issued(position)


async def register_at_once(
    session: AsyncSession, slug: str, data: RegistrationCreate
) -> RegistrationIssued | None:
    """:func:`register`'s common case as one statement, for a unit of work in
    autocommit on PostgreSQL (the edge runs it so: ``festival.db.at_once_else_in_transaction``).

    The read, then one statement that claims a place and, only if it got one,
    writes the registration, its tokens, ticket and letter
    (``queries.enrolment``): atomic as one statement is, so it needs no BEGIN and
    COMMIT. None, with nothing written, when the festival needs more than that
    (places to be made, a waiting list, its signing key made) or the database is
    not PostgreSQL: then :func:`register` must run, in a transaction.
    Refusals (closed, the same e-mail) are raised as :func:`register` raises them.
    """
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return None
    email, at = data.email.strip().lower(), utcnow()
    desk = await _desk(connection, slug, email, at)
    line = participation.line_for(desk.mode, data.participation)
    if desk.confirm_email or desk.waiting(line) or desk.has_questions or data.answers:
        return None
    if not issuing.has_keys(desk.id):
        return None
    draft = await _draft(session, desk, data, email, at)
    statement, params = queries.enrolment(
        draft.registration, draft.tokens, draft.ticket, draft.letter
    )
    with _already_registered(email):
        placed = await statement.first(connection, params) is not None
    if not placed:
        return None
    outbox.send_after_commit(session)
    return draft.issued(None)


async def _desk(connection: AsyncConnection, slug: str, email: str, at: datetime) -> Desk:
    """The festival as registration reads it; refusals for a closed one or a known e-mail."""
    row = await queries.DESK.first(connection, {"slug": slug, "email": email})
    if row is None:
        raise NotFound(f"No festival {slug!r}")
    desk = Desk(*row)
    window.ensure_registration_open(desk, at)
    if desk.email_taken and not desk.confirm_email:  # that one answers alike for all
        raise AlreadyRegistered(f"{email} is already registered", field="email")
    return desk


async def _draft(
    session: AsyncSession, desk: Desk, data: RegistrationCreate, email: str, now: datetime
) -> Draft:
    registration_id, ticket_id = uuid.uuid4(), uuid.uuid4()
    registration = {
        "id": registration_id,
        "festival_id": desk.id,
        "name": data.name,
        "email": email,
        "organisation": data.organisation,
        "country": data.country,
        "status": "confirmed",
        "waitlist_seq": None,
        "confirmed_at": now,
        "cancelled_at": None,
        "hold_expires_at": None,
        "reminders": True,
        "participation": participation.line_for(desk.mode, data.participation),
        "created_at": now,
        **consent.columns(data.consent, now),
    }
    tokens = [
        new_token(kind, festival_id=desk.id, subject_id=registration_id, label=data.name)
        for kind in ("attendee", "feed")
    ]
    ticket = {
        "id": ticket_id,
        "registration_id": registration_id,
        "festival_id": desk.id,
        "version": 1,
        "revoked_at": None,
        "created_at": now,
    }
    qr = await issuing.signed_payload(session, desk.id, ticket_id, 1)
    letter = letters.letter(desk.name, data.name, email, "confirmed", qr, desk.id, registration_id)
    rows = [row for row, _ in tokens]
    return Draft(registration, rows, (tokens[0][1], tokens[1][1]), ticket, letter, qr)


@contextmanager
def _already_registered(email: str) -> Iterator[None]:
    """The active-e-mail index's refusal (the same e-mail, registered a moment ago)
    as ``AlreadyRegistered``; another integrity error is not relabelled."""
    try:
        yield
    except IntegrityError as exc:
        if not _email_taken(exc):
            raise
        raise AlreadyRegistered(f"{email} is already registered", field="email") from exc


async def _enrol(session: AsyncSession, draft: Draft) -> bool:
    """Write a confirmed registration, its tokens, ticket and letter, then claim a
    place for it (making places if needed); whether one was free."""
    connection = await session.connection()
    festival_id, registration_id = draft.registration["festival_id"], draft.registration["id"]
    await connection.execute(queries.INSERT_REGISTRATION, draft.registration)
    await connection.execute(queries.INSERT_TOKENS, draft.tokens)
    await connection.execute(queries.INSERT_TICKET, draft.ticket)
    await outbox.post(session, draft.letter)
    line = draft.registration["participation"]
    return await queries.claim_place(session, festival_id, registration_id, line)


def _email_taken(exc: IntegrityError) -> bool:
    """Whether the active-e-mail index refused the row (PostgreSQL names the index,
    SQLite its columns), rather than another constraint."""
    text = str(exc.orig)
    return "uq_registrations_active_email" in text or "registrations.email" in text


async def _waitlist(session: AsyncSession, desk: Desk, name: str, draft: Draft) -> int:
    """Turn a drafted confirmation into the next waiting-list place; its position."""
    seq = await queries.next_waitlist_seq(session, desk.id)
    registration_id, to = draft.registration["id"], draft.letter["to_address"]
    connection = await session.connection()
    await connection.execute(
        update(Registration)
        .where(Registration.id == registration_id)
        .values(status="waitlisted", waitlist_seq=seq, confirmed_at=None)
    )
    await connection.execute(delete(Ticket).where(Ticket.id == draft.ticket["id"]))
    waitlisted = letters.letter(desk.name, name, to, "waitlisted", None, desk.id, registration_id)
    await connection.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == draft.letter["id"])
        .values(kind=waitlisted["kind"], subject=waitlisted["subject"], body=waitlisted["body"])
    )
    line = draft.registration["participation"]
    return int(await session.scalar(queries.waitlist_position(desk.id, seq, line)) or 0)


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
        await waitlist.promote(session, me.festival, registration.participation)
    elif not await queries.change_status(
        session, Registration, registration.id, "waitlisted", "cancelled", cancelled_at=now
    ):
        return
    effects.access_ended(session, registration.id)  # its live sockets close after the commit
    await session.refresh(registration)
    await letters.tell(session, me.festival, registration, "cancelled", None)


async def reissue(session: AsyncSession, principal: Principal) -> TicketRead:
    """A new version of one's ticket; the old payload is refused as ``revoked`` from now on."""
    me = await attendees.attendee(session, principal)
    ticket = await session.scalar(queries.ticket_of(me.registration.id))
    if ticket is None or ticket.revoked_at is not None:
        raise RegistrationNotFound("This registration has no ticket")
    ticket = await issuing.reissue_ticket(session, ticket)
    return await issuing.ticket_read(session, ticket)
