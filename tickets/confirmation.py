"""Registration without probing: the festival's ``confirm_email`` setting.

With it on, a registration is answered the same way whatever the address
(:class:`Pending`, "check your e-mail"), so the reply tells nobody who
registered. What happens depends on the address, and is told only to it:

- new: a ``pending`` registration, holding a free place unless people are
  waiting (they go first), until ``hold_expires_at``; the letter carries a
  one-time link (:mod:`tickets.codes`) valid as long as the hold;
- pending: a new link to the same hold, which does not grow longer;
- confirmed or waitlisted: a letter saying so, with no secret in it.

Following the link (:func:`confirm`) gives the registration its tokens and,
with its held place (or a free one), a ticket; else a place on the waiting list.
An unconfirmed hold lapses (:func:`lapse`): the registration is deleted, since
nobody agreed to it, and its place goes to the first on the waiting list.
Letters to one address are capped (``may_write``), so the form cannot be used
to flood someone's inbox.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import quote

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from festival.auth import new_token
from festival.db import utcnow
from festival.models import Festival
from tickets import (
    codes,
    consent,
    issuing,
    letters,
    outbox,
    participation,
    queries,
    questions,
    waitlist,
)
from tickets.errors import LinkExpired
from tickets.models import AccessCode, Place, Registration, RegistrationQuestion
from tickets.schemas import Answer, RegistrationCreate, RegistrationIssued

log = logging.getLogger(__name__)
PURPOSE = "confirm"
CHECK_EMAIL = (
    "Check your e-mail: we sent a link to confirm this registration. If the address "
    "is registered already, the e-mail says so."
)
MayWrite = Callable[[str], Awaitable[bool]]


class Asking(Protocol):
    """What :func:`ask` reads of the festival (``tickets.registration.Desk``)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def confirm_hold_minutes(self) -> int: ...
    @property
    def mode(self) -> str: ...


async def always(email: str) -> bool:
    """``may_write`` with no cap (tools and tests; the API caps per address)."""
    return True


def link_maker(base_url: str, slug: str) -> Callable[[str], str]:
    """The confirmation link of a code: the page, with the code in the fragment,
    which browsers never send to a server or in a ``Referer``."""
    page = f"{base_url.rstrip('/')}/f/{quote(slug)}/confirm"
    return lambda code: f"{page}#code={code}"


@dataclass(frozen=True)
class Pending:
    """The one answer to every registration of a festival that confirms addresses."""

    detail: str = CHECK_EMAIL


async def ask(
    session: AsyncSession,
    desk: Asking,
    data: RegistrationCreate,
    email: str,
    at: datetime,
    *,
    link: Callable[[str], str],
    may_write: MayWrite,
    answers: list[tuple[RegistrationQuestion, Answer]] | None = None,
) -> Pending:
    """Take a registration to be confirmed from ``email`` (see the module); it
    needs a transaction. ``link`` makes the confirmation URL of a code;
    ``may_write`` says whether one more letter may go to an address."""
    await lapse(session, at, festival_id=desk.id)
    found = await _active(session, desk.id, email)
    if found is None:
        found = await _hold(session, desk, data, email, at)
        await questions.record(session, found.id, answers or [])
    if not await may_write(email):
        return Pending()
    if found.status == "pending":
        await remind(session, desk, found, at, link)
        return Pending()
    standing = "on the waiting list" if found.status == "waitlisted" else "registered"
    row = letters.letter(
        desk.name, found.name, email, "known", None, desk.id, found.id, standing=standing
    )
    await outbox.post(session, row)
    return Pending()


class Named(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...


async def remind(
    session: AsyncSession,
    festival: Named,
    pending: Registration,
    at: datetime,
    link: Callable[[str], str],
) -> None:
    """Write a pending registration a new link to its hold (which does not grow)."""
    assert pending.hold_expires_at is not None
    code = await codes.make(
        session,
        festival_id=festival.id,
        registration_id=pending.id,
        purpose=PURPOSE,
        expires_at=pending.hold_expires_at,
        now=at,
    )
    held = await session.scalar(select(Place.number).where(Place.registration_id == pending.id))
    place = (
        "A place is held for you until then."
        if held is not None
        else "The festival is full: once you confirm, you join its waiting list."
    )
    until = f" before {pending.hold_expires_at:%Y-%m-%d %H:%M} UTC"
    row = letters.letter(
        festival.name, pending.name, pending.email, "confirm", None, festival.id, pending.id,
        link=link(code), until=until, place=place,
    )  # fmt: skip
    await outbox.post(session, row)


async def _active(session: AsyncSession, festival_id: uuid.UUID, email: str) -> Registration | None:
    return await session.scalar(
        select(Registration).where(
            Registration.festival_id == festival_id,
            Registration.email == email,
            Registration.status != "cancelled",
        )
    )


async def _hold(
    session: AsyncSession, desk: Asking, data: RegistrationCreate, email: str, at: datetime
) -> Registration:
    """A new pending registration, with a free place unless people are waiting.

    The same address asked twice at once: the active-e-mail index takes one row
    and the other request answers as for a pending address."""
    registration_id = uuid.uuid4()
    line = participation.line_for(desk.mode, data.participation)
    try:
        async with session.begin_nested():
            await session.execute(
                insert(Registration).values(
                    id=registration_id,
                    festival_id=desk.id,
                    name=data.name,
                    email=email,
                    organisation=data.organisation,
                    country=data.country,
                    status="pending",
                    hold_expires_at=at + timedelta(minutes=desk.confirm_hold_minutes),
                    participation=line,
                    created_at=at,
                    **consent.columns(data.consent, at),
                )
            )
    except IntegrityError:
        found = await _active(session, desk.id, email)
        if found is None:
            raise
        return found
    if await session.scalar(queries.first_waitlisted(desk.id, line)) is None:
        await queries.claim_place(session, desk.id, registration_id, line)
    return await session.get_one(Registration, registration_id)


async def confirm(session: AsyncSession, code: str, now: datetime) -> RegistrationIssued:
    """Follow a confirmation link: the registration's tokens, and its ticket when
    it has a place; ``LinkExpired`` for a used, expired or unknown code. It needs
    a transaction."""
    registration_id = await codes.redeem(session, code, PURPOSE, now)
    registration = await session.get(Registration, registration_id, populate_existing=True)
    if registration is None or registration.status != "pending":
        raise LinkExpired("This registration is confirmed already: use the links you were sent")
    festival = await session.get_one(Festival, registration.festival_id)
    await issuing.ensure_ticketing(session, festival.id)
    line = registration.participation
    placed = await _placed(session, festival.id, registration.id, line)
    seq = None if placed else await queries.next_waitlist_seq(session, festival.id)
    moved = await queries.change_status(
        session,
        Registration,
        registration.id,
        "pending",
        "confirmed" if placed else "waitlisted",
        confirmed_at=now if placed else None,
        waitlist_seq=seq,
        hold_expires_at=None,
    )
    if not moved:  # confirmed by another of its links a moment ago
        raise LinkExpired("This registration is confirmed already: use the links you were sent")
    await session.execute(delete(AccessCode).where(AccessCode.registration_id == registration.id))
    await session.refresh(registration)
    tokens = [
        new_token(
            kind, festival_id=festival.id, subject_id=registration.id, label=registration.name
        )
        for kind in ("attendee", "feed")
    ]
    await session.execute(queries.INSERT_TOKENS, [row for row, _ in tokens])
    ticket, position = None, None
    if placed:
        issued = await issuing.issue_ticket(session, registration)
        ticket = await issuing.ticket_read(session, issued)
        await letters.tell(session, festival, registration, "confirmed", ticket.qr)
    else:
        waiting = queries.waitlist_position(festival.id, seq, line)
        position = int(await session.scalar(waiting) or 0)
        await letters.tell(session, festival, registration, "waitlisted", None)
    return RegistrationIssued(
        id=registration.id,
        status="confirmed" if placed else "waitlisted",
        participation=line,
        waitlist_position=position,
        attendee_token=tokens[0][1],
        feed_token=tokens[1][1],
        ticket=ticket,
    )


async def _placed(
    session: AsyncSession, festival_id: uuid.UUID, registration_id: uuid.UUID, line: str
) -> bool:
    """Whether the registration holds a place, or got a free one of its line (nobody
    waiting in it)."""
    held = select(Place.number).where(Place.registration_id == registration_id)
    if await session.scalar(held) is not None:
        return True
    if await session.scalar(queries.first_waitlisted(festival_id, line)) is not None:
        return False
    return await queries.claim_place(session, festival_id, registration_id, line)


async def lapse(
    session: AsyncSession, now: datetime, *, festival_id: uuid.UUID | None = None
) -> int:
    """Delete the pending registrations whose hold has run out (their codes go
    with them, their places come free) and give those places to the waiting list;
    how many lapsed. Safe to run anywhere at once: each row is deleted once."""
    statement = delete(Registration).where(
        Registration.status == "pending", Registration.hold_expires_at <= now
    )
    if festival_id is not None:
        statement = statement.where(Registration.festival_id == festival_id)
    lapsed = (
        (
            await session.execute(
                statement.returning(Registration.festival_id).execution_options(
                    synchronize_session=False
                )
            )
        )
        .scalars()
        .all()
    )
    for affected in set(lapsed):
        await waitlist.promote_all(session, await session.get_one(Festival, affected))
    return len(lapsed)


async def lapse_forever(
    sessionmaker: async_sessionmaker[AsyncSession], *, every: float = 60.0
) -> None:
    """Run :func:`lapse` over every festival each ``every`` seconds until cancelled
    (``festival serve`` runs it in each process; registering lapses a festival's
    own holds first, so a hold never outlives its time where it matters)."""
    while True:
        await asyncio.sleep(every)
        try:
            async with sessionmaker() as session, session.begin():
                await lapse(session, utcnow())
        except SQLAlchemyError as exc:  # the database is away: next time
            log.warning("pending registrations not lapsed: %r", exc)
