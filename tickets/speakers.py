"""Speakers invited to moderate their own sessions (issue 17).

An invitation mails the speaker (at the private e-mail the organiser keeps)
a moderator link for each of their scheduled sessions: one staff token, a
moderator's, scoped to those sessions and valid until the day after the
festival, naming the speaker as its subject. Inviting again revokes the earlier
token, so only the newest letter's links work (and a speaker's new sessions
join the scope). When one of their sessions moves, an invited speaker is told
(:func:`on_session_changed`). The token's secret is in the letter only: the
outbox scrubs it from the stored text once the letter is sent.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from festival.auth import Principal, issue_token
from festival.db import utcnow
from festival.errors import Invalid, NotFound
from festival.models import Festival, Token
from festival.roles import Permission
from festival.service import get_managed_festival
from schedule.events import SessionChanged
from schedule.models import Session, Speaker, session_speakers
from tickets import outbox
from tickets.schemas import SpeakerInvited

KIND = "speaker.invited"


async def invite(
    session: AsyncSession, principal: Principal, slug: str, speaker_id: uuid.UUID, *, base_url: str
) -> SpeakerInvited:
    """Mail ``speaker_id`` moderator links to their sessions (see the module)."""
    festival = await get_managed_festival(session, principal, slug, Permission.PROGRAMME)
    speaker = await session.scalar(
        select(Speaker).where(Speaker.id == speaker_id, Speaker.festival_id == festival.id)
    )
    if speaker is None:
        raise NotFound(f"No speaker {speaker_id}")
    if not speaker.email:
        raise Invalid("This speaker has no e-mail address to invite", field="email")
    theirs = (
        await session.execute(
            select(Session.id, Session.title, Session.starts_at)
            .join(session_speakers, session_speakers.c.session_id == Session.id)
            .where(session_speakers.c.speaker_id == speaker.id, Session.status == "scheduled")
            .order_by(Session.starts_at)
        )
    ).all()
    if not theirs:
        raise Invalid("This speaker has no scheduled session to moderate", field="speaker_id")
    now = utcnow()
    await session.execute(
        update(Token)
        .where(_invitation_of(speaker.id, festival.id), Token.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    zone = ZoneInfo(festival.timezone)
    expires = datetime.combine(festival.ends_on + timedelta(days=2), time(), zone)
    _, raw = await issue_token(
        session,
        "staff",
        account_id=principal.account_id,
        festival_id=festival.id,
        role="moderator",
        session_ids=[str(row.id) for row in theirs],
        subject_id=speaker.id,
        label=f"Speaker: {speaker.name}"[:200],
        expires_at=expires,
    )
    base = base_url.rstrip("/")
    lines = [
        f"Hello {speaker.name},",
        "",
        f"You speak at {festival.name}. These links let you moderate the live questions "
        "of your sessions (approve, answer, highlight); keep them to yourself:",
        "",
    ]
    for row in theirs:
        local = row.starts_at.astimezone(zone)
        lines += [
            f"{row.title}, {local:%A %d %B %H:%M} ({festival.timezone}):",
            f"{base}/moderate/{row.id}?token={raw}",
            "",
        ]
    lines.append("They work until the day after the festival. A new invitation replaces them.")
    letter = outbox.message(
        festival_id=festival.id,
        registration_id=None,
        kind=KIND,
        to=speaker.email,
        subject=f"Moderate your sessions at {festival.name}"[:300],
        body="\n".join(lines) + "\n",
    )
    await outbox.post(session, letter)
    return SpeakerInvited(
        speaker_id=speaker.id, session_ids=[row.id for row in theirs], expires_at=expires
    )


def _invitation_of(speaker_id: uuid.UUID, festival_id: uuid.UUID) -> ColumnElement[bool]:
    return (
        (Token.kind == "staff")
        & (Token.role == "moderator")
        & (Token.festival_id == festival_id)
        & (Token.subject_id == speaker_id)
    )


async def on_session_changed(session: AsyncSession, event: SessionChanged) -> None:
    """Tell the invited speakers of a session that moved where it went."""
    if event.kind != "moved":
        return
    now = utcnow()
    invited = (
        await session.execute(
            select(Speaker.name, Speaker.email)
            .join(session_speakers, session_speakers.c.speaker_id == Speaker.id)
            .join(Token, Token.subject_id == Speaker.id)
            .where(
                session_speakers.c.session_id == event.session_id,
                Speaker.email.is_not(None),
                Token.kind == "staff",
                Token.festival_id == event.festival_id,
                Token.revoked_at.is_(None),
                (Token.expires_at.is_(None)) | (Token.expires_at > now),
            )
            .distinct()
        )
    ).all()
    if not invited:
        return
    festival = await session.get_one(Festival, event.festival_id)
    moved = await session.get_one(Session, event.session_id)
    local = moved.starts_at.astimezone(ZoneInfo(festival.timezone))
    letters = [
        outbox.message(
            festival_id=festival.id,
            registration_id=None,
            kind="speaker.moved",
            to=email,
            subject=f"Your session moved: {event.title}"[:300],
            body=(
                f"Hello {name},\n\nYour session {event.title!r} at {festival.name} now starts "
                f"{local:%A %d %B %H:%M} ({festival.timezone}). The moderator link from your "
                "invitation still works.\n"
            ),
        )
        for name, email in invited
        if email
    ]
    await outbox.post(session, *letters)
