"""The stage: who reaches a session's stream, from when, and what is on now.

A session's stream URL (its own, else its virtual room's) is for the people of
its festival, as pretix and Indico learned: public outputs carry its live page,
the ``join_url``, and the stream itself is handed out here, to

- an attendee of the festival (a waitlisted one only while the organiser lets
  the waiting list into live sessions, as :func:`realtime.access.role_of`
  decides for the socket), from ``JOIN_OPENS_BEFORE`` before the start on;
- the session's moderators and the festival's organisers, at any time (they
  set it up and test it).

Not guaranteed: an attendee who has the link may pass it on. The gate makes
the link as hard to find as the festival's own tickets, no harder. There is no
closing time: a stream page often carries the recording afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from festival.auth import Principal
from festival.errors import NotFound
from festival.models import Festival
from schedule.catalogue import readable_festival
from schedule.errors import JoinNotOpen, NoStream, NotAParticipant, SessionCancelled
from schedule.exports import public_join_url, stream_url_of
from schedule.models import Room, Session
from schedule.players import player_of
from schedule.queries import may_manage
from schedule.schemas import JoinRead, RoomRef, SpeakerRef, StageItem, StageRead, TrackRef
from schedule.timing import festival_zone

JOIN_OPENS_BEFORE = timedelta(minutes=15)
# More than a festival runs at once: a bound, not a page.
MAX_ON_STAGE = 200
Presence = Callable[[uuid.UUID], int]


def watcher_role(principal: Principal, festival: Festival, session_id: uuid.UUID) -> str | None:
    """``attendee`` or ``moderator`` for those who may have the stream, else None.

    The rule of :func:`realtime.access.role_of` for the socket, less the projector
    (a read-only screen of the Q&A, which plays no stream).
    """
    if principal.kind == "attendee" and principal.festival_id == festival.id:
        waiting = principal.standing == "waitlisted"
        return "attendee" if not waiting or festival.waitlisted_live else None
    if principal.may_moderate(festival.id, session_id) or may_manage(principal, festival):
        return "moderator"
    return None


async def join_link(
    session: AsyncSession, principal: Principal, session_id: uuid.UUID, now: datetime
) -> JoinRead:
    """The stream of a session for ``principal``, or why not, in this order: no such
    session (or a draft's, for anyone but its organisers): ``NotFound``; no place in
    the festival: ``NotAParticipant``; no stream: ``NoStream``; cancelled:
    ``SessionCancelled``; an attendee before ``opens_at``: ``JoinNotOpen``."""
    row = (
        await session.execute(
            select(Session, Festival)
            .join(Festival, Festival.id == Session.festival_id)
            .options(joinedload(Session.room))
            .where(Session.id == session_id)
        )
    ).first()
    if row is None or (row[1].published_at is None and not may_manage(principal, row[1])):
        raise NotFound(f"No session {session_id}")
    item, festival = row
    role = watcher_role(principal, festival, session_id)
    if role is None:
        raise NotAParticipant("This token has no place in this session")
    stream = stream_url_of(item)
    if stream is None:
        raise NoStream("This session has no stream: it takes place in its room")
    if item.status == "cancelled":
        raise SessionCancelled("The session is cancelled")
    zone = festival_zone(festival)
    opens_at = (item.starts_at - JOIN_OPENS_BEFORE).astimezone(zone)
    if role == "attendee" and now < opens_at:
        minutes = int(JOIN_OPENS_BEFORE.total_seconds() // 60)
        raise JoinNotOpen(
            f"The stream opens at {opens_at:%H:%M} on {opens_at:%Y-%m-%d} ({festival.timezone}),"
            f" {minutes} minutes before the session starts",
            opens_at=opens_at.isoformat(),
        )
    player = player_of(stream)
    return JoinRead(
        url=stream,
        embed_url=player.embed_url if player else None,
        provider=player.provider if player else None,
        opens_at=opens_at,
    )


async def player_origin(session: AsyncSession, session_id: uuid.UUID) -> str | None:
    """The origin the live page of ``session_id`` must let a frame load, if its stream
    plays inside the page. An origin (scheme and host) is no way in; the URL stays out."""
    item = await session.scalar(
        select(Session).options(joinedload(Session.room)).where(Session.id == session_id)
    )
    stream = stream_url_of(item) if item is not None else None
    player = player_of(stream) if stream else None
    return player.origin if player else None


async def on_stage(
    session: AsyncSession,
    principal: Principal | None,
    slug: str,
    now: datetime,
    *,
    base_url: str,
    presence: Presence,
) -> StageRead:
    """The published programme's sessions on at ``now``, and those that start next
    (every session of the next start time), each with ``presence(session_id)``.

    Three queries whatever the programme's size: the festival, the sessions
    (room and track joined), their speakers. ``presence`` is asked, not awaited:
    it must answer from memory (the live hub's count), never from the network.
    """
    festival, _ = await readable_festival(session, principal, slug)
    scheduled = and_(Session.festival_id == festival.id, Session.status == "scheduled")
    next_start = (
        select(func.min(Session.starts_at)).where(scheduled, Session.starts_at > now)
    ).scalar_subquery()
    rows = (
        await session.scalars(
            select(Session)
            .outerjoin(Room, Room.id == Session.room_id)
            .options(
                contains_eager(Session.room),
                joinedload(Session.track),
                selectinload(Session.speakers),
            )
            .where(
                scheduled,
                or_(
                    and_(Session.starts_at <= now, Session.ends_at > now),
                    Session.starts_at == next_start,
                ),
            )
            .order_by(Session.starts_at, Room.position, Session.title, Session.id)
            .limit(MAX_ON_STAGE)
        )
    ).all()
    zone = festival_zone(festival)
    items = [(s, _item(s, zone, base_url, presence)) for s in rows]
    return StageRead(
        at=now.astimezone(zone),
        now=[item for s, item in items if s.starts_at <= now],
        next=[item for s, item in items if s.starts_at > now],
    )


def _item(session: Session, zone: ZoneInfo, base_url: str, presence: Presence) -> StageItem:
    track, room = session.track, session.room
    return StageItem(
        id=session.id,
        title=session.title,
        format=session.format,
        starts_at=session.starts_at.astimezone(zone),
        ends_at=session.ends_at.astimezone(zone),
        track=TrackRef(id=track.id, name=track.name, colour=track.colour) if track else None,
        room=RoomRef(id=room.id, name=room.name, kind=room.kind) if room else None,
        speakers=[
            SpeakerRef(id=p.id, name=p.name, organisation=p.organisation) for p in session.speakers
        ],
        live_qa=session.live_qa,
        join_url=public_join_url(base_url, session),
        presence=presence(session.id),
    )
