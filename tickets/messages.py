"""The organiser's messages to attendees: written to the outbox, one letter each.

A message names its audience (:data:`AUDIENCES`, or ``session:<id>`` for a
session's seat holders and those who saved it), is previewed (how many get it,
and the letter the first of them gets) and then sent: one outbox row per
person, written in one statement with the message itself, so it is sent to all
or to none. The list of messages says how far delivery has got.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, case, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.db import utcnow
from festival.errors import Invalid
from festival.models import Festival
from festival.roles import Permission
from festival.service import get_managed_festival
from schedule.models import Session
from tickets import outbox
from tickets.models import Favourite, FestivalMessage, OutboxMessage, Registration, SeatReservation
from tickets.schemas import MessageCreate, MessagePreview, MessageRead

AUDIENCES = ("confirmed", "waitlisted", "all")


async def _audience(
    session: AsyncSession, festival: Festival, to: str
) -> Select[uuid.UUID, str, str]:
    """Who ``to`` names: (registration id, name, e-mail) of active registrations."""
    people = select(Registration.id, Registration.name, Registration.email).where(
        Registration.festival_id == festival.id
    )
    if to == "all":
        return people.where(Registration.status.in_(("confirmed", "waitlisted")))
    if to in AUDIENCES:
        return people.where(Registration.status == to)
    session_id = _session_id(to)
    found = await session.scalar(
        select(Session.id).where(Session.id == session_id, Session.festival_id == festival.id)
    )
    if found is None:
        raise Invalid(f"No session {session_id} in this festival", field="to")
    seated = select(SeatReservation.registration_id).where(
        SeatReservation.session_id == session_id, SeatReservation.status != "released"
    )
    liked = select(Favourite.registration_id).where(Favourite.session_id == session_id)
    return people.where(
        Registration.status == "confirmed",
        or_(Registration.id.in_(seated), Registration.id.in_(liked)),
    )


def _session_id(to: str) -> uuid.UUID:
    kind, _, value = to.partition(":")
    try:
        if kind == "session":
            return uuid.UUID(value)
    except ValueError:
        pass
    raise Invalid(
        f"{to!r} is no audience: one of confirmed, waitlisted, all or session:<id>", field="to"
    )


def _letter_body(name: str, body: str, festival_name: str) -> str:
    return f"Hello {name},\n\n{body.strip()}\n\n{festival_name}\n"


async def preview(
    session: AsyncSession, principal: Principal, slug: str, data: MessageCreate
) -> MessagePreview:
    """How many people ``data`` reaches, and the letter each gets (their name where
    it says ``<name>``: an editor sends messages but sees no attendee's data)."""
    festival = await get_managed_festival(session, principal, slug, Permission.MESSAGES)
    audience = (await _audience(session, festival, data.to)).subquery()
    count = int(await session.scalar(select(func.count()).select_from(audience)) or 0)
    body = _letter_body("<name>", data.body, festival.name)
    return MessagePreview(recipients=count, subject=data.subject, body=body)


async def send(
    session: AsyncSession, principal: Principal, slug: str, data: MessageCreate
) -> MessageRead:
    """Write the message and one outbox letter per person it reaches."""
    festival = await get_managed_festival(session, principal, slug, Permission.MESSAGES)
    people = (await session.execute(await _audience(session, festival, data.to))).all()
    message_id, now = uuid.uuid4(), utcnow()
    await session.execute(
        insert(FestivalMessage).values(
            id=message_id,
            festival_id=festival.id,
            subject=data.subject,
            body=data.body,
            audience=data.to,
            recipients=len(people),
            sent_by=principal.account_id,
            created_at=now,
        )
    )
    rows: list[dict[str, Any]] = []
    for registration_id, name, email in people:
        row = outbox.message(
            festival_id=festival.id,
            registration_id=registration_id,
            kind="message",
            to=email,
            subject=data.subject,
            body=_letter_body(name, data.body, festival.name),
        )
        row["message_id"] = message_id
        rows.append(row)
    await outbox.post(session, *rows)
    return MessageRead(
        id=message_id,
        subject=data.subject,
        to=data.to,
        recipients=len(people),
        created_at=now,
        sent=0,
        waiting=len(people),
        failing=0,
    )


async def list_messages(
    session: AsyncSession, principal: Principal, slug: str
) -> list[MessageRead]:
    """The festival's messages, newest first, with how many letters went out,
    wait, or are failing (retried, with an error)."""
    festival = await get_managed_festival(session, principal, slug, Permission.MESSAGES)
    sent = func.count(OutboxMessage.sent_at)
    failing = func.sum(
        case((OutboxMessage.sent_at.is_(None) & OutboxMessage.last_error.is_not(None), 1), else_=0)
    )
    rows = await session.execute(
        select(FestivalMessage, sent, func.coalesce(failing, 0))
        .outerjoin(OutboxMessage, OutboxMessage.message_id == FestivalMessage.id)
        .where(FestivalMessage.festival_id == festival.id)
        .group_by(FestivalMessage.id)
        .order_by(FestivalMessage.created_at.desc())
    )
    return [
        MessageRead(
            id=message.id,
            subject=message.subject,
            to=message.audience,
            recipients=message.recipients,
            created_at=message.created_at,
            sent=int(done),
            waiting=message.recipients - int(done),
            failing=int(bad),
        )
        for message, done, bad in rows
    ]
