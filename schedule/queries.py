"""Statements of the programme, and what a principal may see of it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    and_,
    false,
    func,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from festival.auth import Principal
from festival.models import Festival
from festival.roles import Permission
from schedule.models import ProgrammeChange, Room, Session, Speaker, Track, session_speakers


def sessions_with_details() -> Select[Session]:
    """Sessions with speakers, room and track loaded (two extra queries, not N)."""
    return select(Session).options(
        selectinload(Session.speakers), selectinload(Session.room), selectinload(Session.track)
    )


def sessions_with_speakers() -> Select[Session]:
    """Sessions with speakers (one extra query) and room (joined: none): the room
    says whether a session has a stream, hence a ``join_url``."""
    return select(Session).options(selectinload(Session.speakers), joinedload(Session.room))


def may_manage(
    principal: Principal | None, festival: Festival, permission: Permission = Permission.PROGRAMME
) -> bool:
    """Whether ``principal``'s role in ``festival``'s team grants ``permission``
    (by default: changing the programme, and seeing its private fields)."""
    return principal is not None and principal.may(permission, festival.id, festival.owner_id)


def visible_sessions(principal: Principal | None, festival: Festival) -> ColumnElement[bool]:
    """The sessions of ``festival`` this principal may see.

    A published programme is public; an unpublished one is seen by its
    organisers only (staff and attendees of a draft festival see nothing yet).
    """
    if festival.published_at is None and not may_manage(principal, festival, Permission.READ):
        return false()
    return Session.festival_id == festival.id


def session_filters(
    *,
    track_id: uuid.UUID | None = None,
    room_id: uuid.UUID | None = None,
    speaker_id: uuid.UUID | None = None,
    status: str | None = None,
    format: str | None = None,
    between: tuple[datetime, datetime] | None = None,
) -> ColumnElement[bool]:
    """One condition for the list, programme and calendar filters (None = any)."""
    parts: list[ColumnElement[bool]] = [true()]
    if track_id is not None:
        parts.append(Session.track_id == track_id)
    if room_id is not None:
        parts.append(Session.room_id == room_id)
    if speaker_id is not None:
        parts.append(
            Session.id.in_(
                select(session_speakers.c.session_id).where(
                    session_speakers.c.speaker_id == speaker_id
                )
            )
        )
    if status is not None:
        parts.append(Session.status == status)
    if format is not None:
        parts.append(Session.format == format)
    if between is not None:
        parts.append(and_(Session.starts_at >= between[0], Session.starts_at < between[1]))
    return and_(*parts)


def overlapping(
    festival_id: uuid.UUID, starts_at: datetime, ends_at: datetime, exclude: uuid.UUID | None
) -> ColumnElement[bool]:
    """Scheduled sessions of the festival that overlap [starts_at, ends_at)."""
    return and_(
        Session.festival_id == festival_id,
        Session.status == "scheduled",
        Session.starts_at < ends_at,
        Session.ends_at > starts_at,
        true() if exclude is None else Session.id != exclude,
    )


def room_clash(
    festival_id: uuid.UUID,
    room_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    exclude: uuid.UUID | None,
) -> Select[Session]:
    return (
        select(Session)
        .where(overlapping(festival_id, starts_at, ends_at, exclude), Session.room_id == room_id)
        .order_by(Session.starts_at)
        .limit(1)
    )


def speaker_clash(
    festival_id: uuid.UUID,
    speaker_ids: list[uuid.UUID],
    starts_at: datetime,
    ends_at: datetime,
    exclude: uuid.UUID | None,
) -> Select[Session, str]:
    """The earliest overlapping session that shares a speaker, with that speaker's name."""
    return (
        select(Session, Speaker.name)
        .join(session_speakers, session_speakers.c.session_id == Session.id)
        .join(Speaker, Speaker.id == session_speakers.c.speaker_id)
        .where(
            overlapping(festival_id, starts_at, ends_at, exclude),
            session_speakers.c.speaker_id.in_(speaker_ids),
        )
        .order_by(Session.starts_at, session_speakers.c.position)
        .limit(1)
    )


def lock_festival(festival_id: uuid.UUID) -> Select[uuid.UUID]:
    """Serialise programme writes of one festival (PostgreSQL row lock; SQLite
    writers are serialised by ``BEGIN IMMEDIATE`` already), so two organisers
    cannot double-book a room between the clash check and the insert."""
    return select(Festival.id).where(Festival.id == festival_id).with_for_update()


def ids_in_festival(
    model: type[Track | Room | Speaker | Session], festival_id: uuid.UUID, ids: list[uuid.UUID]
) -> Select[uuid.UUID]:
    return select(model.id).where(model.festival_id == festival_id, model.id.in_(ids))


def changes_of(festival_id: uuid.UUID) -> Select[ProgrammeChange]:
    return select(ProgrammeChange).where(ProgrammeChange.festival_id == festival_id)


@cache
def stamp_columns() -> tuple[ScalarSelect[Any], ...]:
    """Count and latest update of each table an export is made of, correlated to
    ``Festival`` so they ride along the festival's own query (one round trip).

    Built once: the constructs are immutable, and building them took longer
    than running them."""
    columns: list[ScalarSelect[Any]] = []
    for model in (Session, Track, Room, Speaker):
        where = model.festival_id == Festival.id
        columns.append(select(func.count()).where(where).correlate(Festival).scalar_subquery())
        columns.append(
            select(func.max(model.updated_at)).where(where).correlate(Festival).scalar_subquery()
        )
    columns.append(
        select(func.max(ProgrammeChange.at))
        .where(ProgrammeChange.festival_id == Festival.id)
        .correlate(Festival)
        .scalar_subquery()
    )
    return tuple(columns)


async def load_programme(
    session: AsyncSession, festival_id: uuid.UUID, condition: ColumnElement[bool]
) -> tuple[Sequence[Session], Sequence[Track], Sequence[Room]]:
    """Sessions matching ``condition`` by start, with speakers, room and track attached,
    plus all the festival's tracks and rooms: five queries whatever the size.

    For whole programmes this beats ``selectinload`` several times over (which
    sends the session ids back in chunks of 500): the festival's speakers,
    rooms, tracks and speaker links are read whole and attached in memory.
    """
    sessions = (
        await session.scalars(
            select(Session)
            .where(Session.festival_id == festival_id, condition)
            .order_by(Session.starts_at, Session.id)
        )
    ).all()
    tracks = (await session.scalars(select(Track).where(Track.festival_id == festival_id))).all()
    rooms = (await session.scalars(select(Room).where(Room.festival_id == festival_id))).all()
    speakers = {
        s.id: s
        for s in await session.scalars(select(Speaker).where(Speaker.festival_id == festival_id))
    }
    links = await session.execute(
        select(session_speakers.c.session_id, session_speakers.c.speaker_id)
        .join(Session, Session.id == session_speakers.c.session_id)
        .where(Session.festival_id == festival_id)
        .order_by(session_speakers.c.session_id, session_speakers.c.position)
    )
    by_session: dict[uuid.UUID, list[Speaker]] = {}
    for session_id, speaker_id in links:
        # Under READ COMMITTED each statement has its own snapshot: a speaker added
        # between the two reads is simply not shown yet (the next ETag will differ).
        if speaker_id in speakers:
            by_session.setdefault(session_id, []).append(speakers[speaker_id])
    track_by_id = {t.id: t for t in tracks}
    room_by_id = {r.id: r for r in rooms}
    for item in sessions:
        set_committed_value(item, "speakers", by_session.get(item.id, []))
        set_committed_value(item, "track", track_by_id.get(item.track_id))  # type: ignore[arg-type]
        set_committed_value(item, "room", room_by_id.get(item.room_id))  # type: ignore[arg-type]
    return sessions, tracks, rooms
