"""An attendee's data: export it, erase it (GDPR Articles 15, 17 and 20).

The attendee asks with their token (``GET /me/export``, ``DELETE /me``); an
organiser whose role grants ``attendees`` asks for one registration, and the
privacy log records who did (:class:`festival.models.PrivacyLogEntry`).

Erasure removes or irreversibly anonymises what names the person, and keeps
what the festival counts: the registration stays as an anonymous row (its
status, times, seats and check-ins: capacity history and check-in counts do
not move), its name and address replaced, its tokens deleted (every route and
open socket refuses them at once), its letters and codes deleted, its door
replies scrubbed. An active registration of a festival that has not ended is
cancelled first, so its place goes to the waiting list. The live sessions'
part (``realtime.privacy``) unlinks questions and votes, keeping their counts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from festival import effects, privacy
from festival.auth import Principal
from festival.db import utcnow
from festival.errors import NotFound
from festival.models import Festival, IdempotentReply, Invitation, PrivacyLogEntry, Token
from festival.roles import Permission
from festival.service import get_managed_festival
from schedule.models import Session, Speaker
from tickets import attendees, issuing, queries, questions, seats, waitlist
from tickets.models import (
    AccessCode,
    Checkin,
    Favourite,
    OutboxMessage,
    Registration,
    RegistrationAnswer,
    SeatReservation,
    Ticket,
)

FORMAT = "festival-personal-data/1"
ERASED_NAME = "(erased)"
ERASED_DOMAIN = "erased.invalid"
ACTIVE = ("pending", "confirmed", "waitlisted")


def erased_email(registration_id: uuid.UUID) -> str:
    """The address an erased registration keeps: unique, and nobody's."""
    return f"{registration_id.hex}@{ERASED_DOMAIN}"


def is_erased(registration: Registration) -> bool:
    return registration.email.endswith(f"@{ERASED_DOMAIN}")


# --- the use cases ----------------------------------------------------------------


async def export_me(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """Everything Festival holds about the token's attendee, anonymous questions included."""
    me = await attendees.attendee(session, principal)
    subject = _subject(me.registration, principal.seal_key)
    return await _export(session, me.festival, subject)


async def erase_me(session: AsyncSession, principal: Principal) -> None:
    """Erase the token's attendee; their tokens die with the commit."""
    me = await attendees.attendee(session, principal)
    await privacy.erase(session, _subject(me.registration, principal.seal_key))


async def export_attendee(
    session: AsyncSession, principal: Principal, slug: str, registration_id: uuid.UUID
) -> dict[str, Any]:
    """An organiser's export of one registration (logged). Anonymous questions are
    not in it: nothing but the attendee's own token finds them."""
    festival, registration = await _attendee_of(session, principal, slug, registration_id)
    _log(session, festival, principal, "export", registration.id)
    return await _export(session, festival, _subject(registration, None))


async def erase_attendee(
    session: AsyncSession, principal: Principal, slug: str, registration_id: uuid.UUID
) -> None:
    """An organiser erases one registration (logged); erasing twice changes nothing more."""
    festival, registration = await _attendee_of(session, principal, slug, registration_id)
    _log(session, festival, principal, "erase", registration.id)
    await privacy.erase(session, _subject(registration, None))


def _subject(registration: Registration, seal_key: bytes | None) -> privacy.Subject:
    return privacy.Subject(
        registration.id, registration.festival_id, seal_key, email=registration.email
    )


async def _attendee_of(
    session: AsyncSession, principal: Principal, slug: str, registration_id: uuid.UUID
) -> tuple[Festival, Registration]:
    festival = await get_managed_festival(session, principal, slug, Permission.ATTENDEES)
    registration = await session.get(Registration, registration_id)
    if registration is None or registration.festival_id != festival.id:
        raise NotFound("No such registration at this festival", field="registration_id")
    return festival, registration


def _log(
    session: AsyncSession,
    festival: Festival,
    principal: Principal,
    action: str,
    registration_id: uuid.UUID,
) -> None:
    session.add(
        PrivacyLogEntry(
            id=uuid.uuid4(),
            festival_id=festival.id,
            action=action,
            actor_account_id=principal.account_id,
            registration_id=registration_id,
            at=utcnow(),
        )
    )


async def _export(
    session: AsyncSession, festival: Festival, subject: privacy.Subject
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "exported_at": utcnow().isoformat(),
        "festival": {"slug": festival.slug, "name": festival.name},
        **await privacy.export(session, subject),
    }


# --- the tickets' section -------------------------------------------------------------


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def _export_section(session: AsyncSession, subject: privacy.Subject) -> dict[str, Any]:
    registration = await session.get_one(Registration, subject.registration_id)
    ticket = await session.scalar(queries.ticket_of(registration.id))
    titles = select(Session.title).where(Session.id == SeatReservation.session_id)
    seat_rows = await session.execute(
        select(SeatReservation, titles.scalar_subquery())
        .where(SeatReservation.registration_id == registration.id)
        .order_by(SeatReservation.created_at)
    )
    favourite_rows = await session.execute(
        select(Favourite, Session.title)
        .join(Session, Session.id == Favourite.session_id)
        .where(Favourite.registration_id == registration.id)
        .order_by(Favourite.created_at)
    )
    checkins = (
        await session.scalars(
            select(Checkin)
            .join(Ticket, Ticket.id == Checkin.ticket_id)
            .where(Ticket.registration_id == registration.id)
            .order_by(Checkin.scanned_at, Checkin.id)
        )
    ).all()
    letters = (
        await session.scalars(
            select(OutboxMessage)
            .where(_letters_of(subject))
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
    ).all()
    tokens = (
        await session.scalars(
            select(Token).where(Token.subject_id == registration.id).order_by(Token.created_at)
        )
    ).all()
    return {
        "registration": {
            "id": str(registration.id),
            "name": registration.name,
            "email": registration.email,
            "organisation": registration.organisation,
            "country": registration.country,
            "status": registration.status,
            "registered_at": _when(registration.created_at),
            "confirmed_at": _when(registration.confirmed_at),
            "cancelled_at": _when(registration.cancelled_at),
            "consent": {
                "terms_version": registration.consent_terms_version,
                "photo": registration.consent_photo,
                "contact": registration.consent_contact,
                "at": _when(registration.consent_at),
            },
        },
        "ticket": None
        if ticket is None
        else {
            "id": str(ticket.id),
            "version": ticket.version,
            "issued_at": _when(ticket.created_at),
            "revoked_at": _when(ticket.revoked_at),
        },
        "seats": [
            {
                "session_id": str(seat.session_id),
                "session": title,
                "status": seat.status,
                "reserved_at": _when(seat.created_at),
                "released_at": _when(seat.released_at),
            }
            for seat, title in seat_rows.all()
        ],
        "answers": [
            a.model_dump(mode="json") for a in await questions.answers_of(session, registration.id)
        ],
        "favourites": [
            {"session_id": str(f.session_id), "session": title, "at": _when(f.created_at)}
            for f, title in favourite_rows.all()
        ],
        "checkins": [
            {
                "id": str(c.id),
                "list": c.list_key,
                "result": c.result,
                "gate": c.gate,
                "scanned_at": _when(c.scanned_at),
                "payload": c.payload,
            }
            for c in checkins
        ],
        "letters": [
            {
                "kind": m.kind,
                "to": m.to_address,
                "subject": m.subject,
                "body": m.body,
                "written_at": _when(m.created_at),
                "sent_at": _when(m.sent_at),
            }
            for m in letters
        ],
        "sign_ins": [
            {
                "kind": t.kind,
                "label": t.label,
                "issued_at": _when(t.created_at),
                "revoked_at": _when(t.revoked_at),
            }
            for t in tokens
        ],
    }


def _letters_of(subject: privacy.Subject) -> Any:
    to_them = OutboxMessage.registration_id == subject.registration_id
    if not subject.email:
        return to_them
    return or_(
        to_them,
        (OutboxMessage.to_address == subject.email)
        & (OutboxMessage.festival_id == subject.festival_id),
    )


async def _erase_section(session: AsyncSession, subject: privacy.Subject) -> None:
    registration = await session.get_one(
        Registration, subject.registration_id, populate_existing=True
    )
    festival = await session.get_one(Festival, registration.festival_id)
    if registration.status in ACTIVE and not has_ended(festival, utcnow()):
        await _cancel(session, festival, registration)
    ticket = await session.scalar(queries.ticket_of(registration.id))
    await session.execute(delete(OutboxMessage).where(_letters_of(subject)))
    await session.execute(delete(AccessCode).where(AccessCode.registration_id == registration.id))
    await session.execute(
        delete(RegistrationAnswer).where(RegistrationAnswer.registration_id == registration.id)
    )
    await session.execute(delete(Token).where(Token.subject_id == registration.id))
    await _forget_replies(session, [registration.id, *([ticket.id] if ticket else [])])
    if ticket is not None:
        await issuing.revoke_ticket(session, registration.id)
        await _scrub_checkins(session, Checkin.ticket_id == ticket.id)
    await session.execute(
        update(Registration)
        .where(Registration.id == registration.id)
        .values(
            name=ERASED_NAME,
            email=erased_email(registration.id),
            organisation=None,
            country=None,
        )
        .execution_options(synchronize_session=False)
    )
    # Its open live sockets close once this commits, on every process, as on a cancel.
    effects.access_ended(session, registration.id)


async def _cancel(session: AsyncSession, festival: Festival, registration: Registration) -> None:
    """Cancel as the attendee would (the place goes to the waiting list), with no letter:
    the address is what is being erased."""
    now, old = utcnow(), registration.status
    if not await queries.change_status(
        session, Registration, registration.id, old, "cancelled", cancelled_at=now
    ):
        return
    if old in ("confirmed", "pending"):
        await seats.release_all(session, registration.id)
        await queries.release_place(session, registration.id)
        await waitlist.promote(session, festival, registration.participation)


async def _forget_replies(session: AsyncSession, ids: list[uuid.UUID]) -> None:
    """Replies kept for retries that carry these ids (a registration's secrets)."""
    if ids:
        await session.execute(
            delete(IdempotentReply).where(
                or_(*(IdempotentReply.body.contains(str(i)) for i in ids))
            )
        )


async def _scrub_checkins(session: AsyncSession, which: Any) -> None:
    """Keep the scans (the counts) without the scanned text or the name in the reply."""
    rows = (await session.scalars(select(Checkin).where(which, Checkin.reply.is_not(None)))).all()
    for row in rows:
        reply = dict(row.reply or {})
        if isinstance(reply.get("attendee"), dict):
            reply["attendee"] = {"name": ERASED_NAME}
        row.reply = reply
    await session.flush()
    await session.execute(
        update(Checkin)
        .where(which)
        .values(payload=None)
        .execution_options(synchronize_session=False)
    )


def has_ended(festival: Festival, now: datetime) -> bool:
    """Whether the festival's last day is over in its own time zone."""
    end = datetime.combine(festival.ends_on + timedelta(days=1), datetime.min.time())
    return now >= end.replace(tzinfo=ZoneInfo(festival.timezone)).astimezone(UTC)


async def _purge_section(session: AsyncSession, festival_id: uuid.UUID) -> None:
    """Every registration of the festival as erased, in a few statements."""
    registrations = select(Registration.id).where(Registration.festival_id == festival_id)
    tickets = select(Ticket.id).where(Ticket.festival_id == festival_id)
    ids = (await session.scalars(registrations)).all()
    ticket_ids = (await session.scalars(tickets)).all()
    await session.execute(delete(OutboxMessage).where(OutboxMessage.festival_id == festival_id))
    await session.execute(delete(AccessCode).where(AccessCode.festival_id == festival_id))
    await session.execute(
        delete(RegistrationAnswer).where(RegistrationAnswer.registration_id.in_(registrations))
    )
    await session.execute(
        delete(Token).where(Token.festival_id == festival_id, Token.kind.in_(("attendee", "feed")))
    )
    for start in range(0, len(ids) + len(ticket_ids), 200):
        await _forget_replies(session, [*ids, *ticket_ids][start : start + 200])
    await _scrub_checkins(session, Checkin.festival_id == festival_id)
    # The speakers' private addresses (their names and bios are the public programme),
    # and the team's invitations.
    await session.execute(
        update(Speaker)
        .where(Speaker.festival_id == festival_id)
        .values(email=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(Invitation).where(Invitation.festival_id == festival_id))
    for registration_id in ids:
        await session.execute(
            update(Registration)
            .where(Registration.id == registration_id)
            .values(
                name=ERASED_NAME,
                email=erased_email(registration_id),
                organisation=None,
                country=None,
            )
            .execution_options(synchronize_session=False)
        )


def install() -> None:
    """Take part in exports, erasures and purges (idempotent)."""
    privacy.register(privacy.Section("tickets", _export_section, _erase_section, _purge_section))


async def log_entries(
    session: AsyncSession, principal: Principal, slug: str
) -> list[dict[str, Any]]:
    """The festival's privacy log, newest first (owners): who exported or erased which
    registration when, and the retention purge."""
    from festival.models import Account

    festival = await get_managed_festival(session, principal, slug, Permission.FESTIVAL)
    rows = await session.execute(
        select(PrivacyLogEntry, Account.email)
        .outerjoin(Account, Account.id == PrivacyLogEntry.actor_account_id)
        .where(PrivacyLogEntry.festival_id == festival.id)
        .order_by(PrivacyLogEntry.at.desc(), PrivacyLogEntry.id)
    )
    return [
        {
            "action": entry.action,
            "by": email,
            "registration_id": str(entry.registration_id) if entry.registration_id else None,
            "detail": entry.detail,
            "at": _when(entry.at),
        }
        for entry, email in rows.all()
    ]
