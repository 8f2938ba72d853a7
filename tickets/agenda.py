"""The attendee's personal agenda: reserved and favourite sessions as an iCal feed.

Calendar apps cannot send headers, so the feed is opened by a feed token in the
URL. A feed token opens this feed and nothing else; an unknown or revoked one
is ``NotFound`` (a calendar app has nobody to show a 401 to).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal, issue_token, resolve_feed_token, revoke_tokens_of
from festival.errors import NotFound, Unauthorized
from festival.models import Festival
from schedule.exports.ical import calendar_ics
from schedule.models import Session
from schedule.queries import sessions_with_details
from tickets import attendees
from tickets.models import Favourite, Registration, SeatReservation


async def agenda_ics(session: AsyncSession, raw_token: str, base_url: str) -> bytes:
    """The feed of the registration a feed token belongs to."""
    try:
        principal = await resolve_feed_token(session, raw_token)
    except Unauthorized as exc:
        raise NotFound("No such feed") from exc
    row = (
        await session.execute(
            select(Registration, Festival)
            .join(Festival, Festival.id == Registration.festival_id)
            .where(Registration.id == principal.subject_id)
        )
    ).first()
    if row is None or row[0].status == "cancelled":
        raise NotFound("No such feed")
    registration, festival = row
    seated = select(SeatReservation.session_id).where(
        SeatReservation.registration_id == registration.id, SeatReservation.status != "released"
    )
    liked = select(Favourite.session_id).where(Favourite.registration_id == registration.id)
    sessions = await session.scalars(
        sessions_with_details()
        .where(
            Session.festival_id == festival.id,
            or_(Session.id.in_(seated), Session.id.in_(liked)),
        )
        .order_by(Session.starts_at, Session.id)
    )
    name = f"{festival.name}: my agenda"
    return calendar_ics(festival, sessions.all(), name=name, base_url=base_url, join_links=True)


async def rotate_feed_token(session: AsyncSession, principal: Principal) -> str:
    """Revoke the attendee's feed tokens and issue a new one (shown once)."""
    me = await attendees.attendee(session, principal)
    await revoke_feed_tokens(session, principal)
    _, raw = await issue_token(
        session,
        "feed",
        festival_id=me.festival.id,
        subject_id=me.registration.id,
        label=me.registration.name,
    )
    return raw


async def revoke_feed_tokens(session: AsyncSession, principal: Principal) -> None:
    """Stop every feed of this attendee: calendar apps get ``404`` from now on."""
    me = await attendees.attendee(session, principal)
    await revoke_tokens_of(session, me.registration.id, "feed")
