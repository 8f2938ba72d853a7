"""Who may join a live session, and as what."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.models import Festival
from festival.roles import Permission
from realtime.errors import LiveQaOff, LiveSessionNotFound, NotAParticipant
from realtime.live import LiveContext, Outbox
from realtime.models import LiveChannel
from realtime.queries import insert_ignoring_duplicates
from schedule.models import Session


def role_of(principal: Principal, festival: Festival, session_id: uuid.UUID) -> str | None:
    """attendee, moderator or projector, or None for anyone else.

    An attendee on the waiting list has no place at the festival yet, so no
    place in its live sessions either (API.md, Who may join): None until promoted,
    unless the organiser lets the waiting list in (``Festival.waitlisted_live``).
    """
    if principal.kind == "attendee" and principal.festival_id == festival.id:
        waiting = principal.standing == "waitlisted"
        return "attendee" if not waiting or festival.waitlisted_live else None
    if principal.may_moderate(festival.id, session_id):
        return "moderator"
    if principal.may(Permission.LIVE, festival.id, festival.owner_id):
        return "moderator"
    if (
        principal.kind == "projector"
        and principal.festival_id == festival.id
        and str(session_id) in principal.session_ids
    ):
        return "projector"
    return None


async def enter(
    session: AsyncSession, principal: Principal, session_id: uuid.UUID, out: Outbox
) -> LiveContext:
    """The context of ``principal`` in a live session, or why they may not be there.

    Someone with no business in the festival hears ``NotAParticipant`` (403)
    whether or not the session exists; a participant of a session without live
    Q&A hears ``LiveQaOff``.
    """
    row = (
        await session.execute(
            select(Session, Festival)
            .join(Festival, Festival.id == Session.festival_id)
            .where(Session.id == session_id)
        )
    ).first()
    if row is None:
        if principal.festival_id is None and not principal.is_organiser:
            raise NotAParticipant("This token has no live session to join")
        raise LiveSessionNotFound(f"No session {session_id}")
    live_session, festival = row
    role = role_of(principal, festival, session_id)
    if role is None:
        raise NotAParticipant("This token may not join this live session")
    if not live_session.live_qa:
        raise LiveQaOff("Live Q&A is not on for this session")
    return LiveContext(session_id, festival.id, role, principal, out)


async def pre_moderation(session: AsyncSession, ctx: LiveContext, default: bool = True) -> bool:
    """Whether new questions wait for a moderator (made on first use)."""
    found = await session.scalar(
        select(LiveChannel.pre_moderation).where(LiveChannel.session_id == ctx.session_id)
    )
    if found is not None:
        return found
    await insert_ignoring_duplicates(
        session,
        LiveChannel,
        {"session_id": ctx.session_id, "festival_id": ctx.festival_id, "pre_moderation": default},
    )
    return default
