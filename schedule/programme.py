"""Use cases of sessions: create, list, read, change, cancel, delete.

Every write checks, in this order: the referenced track, room and speakers
belong to the festival (422 naming the field); the session ends after it
starts (422); it lies within the festival's dates in the festival's zone
(409); no room and no speaker is booked twice at once (409 naming the
clashing session). Cancelled sessions clash with nothing. Writes of one
festival's programme are serialised (see :func:`schedule.queries.lock_festival`),
so two concurrent bookings cannot both pass the clash check.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.db import utcnow
from festival.errors import Invalid, NotFound
from festival.models import Festival
from festival.pagination import keyset_page
from schedule import publishing
from schedule.catalogue import managed_festival, readable_festival
from schedule.errors import OutsideFestival, PublishedSessionDelete, ScheduleClash
from schedule.models import Room, Session, Speaker, Track, session_speakers
from schedule.queries import (
    ids_in_festival,
    room_clash,
    session_filters,
    sessions_with_details,
    sessions_with_speakers,
    speaker_clash,
    visible_sessions,
)
from schedule.schemas import SessionCreate, SessionUpdate
from schedule.timing import day_bounds, festival_bounds, festival_zone

_REQUIRED = {"title", "format", "starts_at", "ends_at", "live_qa", "status", "speaker_ids"}


@dataclass(frozen=True)
class SessionFilters:
    track_id: uuid.UUID | None = None
    room_id: uuid.UUID | None = None
    speaker_id: uuid.UUID | None = None
    status: str | None = None
    format: str | None = None
    day: date | None = None


async def create_session(
    session: AsyncSession, principal: Principal, slug: str, data: SessionCreate
) -> tuple[Session, ZoneInfo]:
    """Add a session; in a published programme it is logged as ``added``."""
    festival = await managed_festival(session, principal, slug)
    item = await add_session(
        session, festival, data.model_dump(exclude={"speaker_ids"}), data.speaker_ids
    )
    return item, festival_zone(festival)


async def update_session(
    session: AsyncSession,
    principal: Principal,
    slug: str,
    session_id: uuid.UUID,
    data: SessionUpdate,
) -> tuple[Session, ZoneInfo]:
    """Apply the fields that were set, re-check the rules, log what participants notice."""
    festival = await managed_festival(session, principal, slug)
    item = await _session_of(session, festival, session_id)
    fields: dict[str, Any] = data.model_dump(exclude_unset=True)
    for name, value in fields.items():
        if value is None and name in _REQUIRED:
            raise Invalid(f"{name} cannot be null", field=name)
    speaker_ids = fields.pop("speaker_ids", None)
    item, _ = await change_session(session, festival, item, fields, speaker_ids)
    return item, festival_zone(festival)


async def add_session(
    session: AsyncSession,
    festival: Festival,
    fields: dict[str, Any],
    speaker_ids: list[uuid.UUID],
    external_id: str | None = None,
) -> Session:
    """Check and insert a session of ``festival`` (already managed and locked)."""
    fields.setdefault("status", "scheduled")
    item = Session(
        id=uuid.uuid4(), festival_id=festival.id, sequence=0, external_id=external_id, **fields
    )
    await check_session(session, festival, item, speaker_ids)
    session.add(item)
    await session.flush()
    await _set_speakers(session, item, speaker_ids)
    item = await _reload(session, item.id)
    if item.status == "scheduled":
        zone = festival_zone(festival)
        await publishing.record(session, festival, item, [("added", None, _snap(item, zone))])
    return item


async def change_session(
    session: AsyncSession,
    festival: Festival,
    item: Session,
    fields: dict[str, Any],
    speaker_ids: list[uuid.UUID] | None,
) -> tuple[Session, bool]:
    """Apply ``fields`` and ``speaker_ids`` (None: keep) to a loaded session.

    Returns the session and whether anything changed; an update that changes
    nothing writes nothing, so feeds keep their ETag.
    """
    fields = {k: v for k, v in fields.items() if getattr(item, k) != v}
    current = [s.id for s in item.speakers]
    if speaker_ids == current:
        speaker_ids = None
    if not fields and speaker_ids is None:
        return item, False
    zone = festival_zone(festival)
    before = _snap(item, zone)
    for name, value in fields.items():
        setattr(item, name, value)
    await check_session(session, festival, item, current if speaker_ids is None else speaker_ids)
    item.updated_at = utcnow()
    await session.flush()
    if speaker_ids is not None:
        await session.execute(
            session_speakers.delete().where(session_speakers.c.session_id == item.id)
        )
        await _set_speakers(session, item, speaker_ids)
    item = await _reload(session, item.id)
    changes = publishing.changes_between(before, _snap(item, zone))
    await publishing.record(session, festival, item, list(changes))
    return item, True


async def delete_session(
    session: AsyncSession, principal: Principal, slug: str, session_id: uuid.UUID
) -> None:
    """Delete a draft session. A published one is cancelled instead (409 here)."""
    festival = await managed_festival(session, principal, slug)
    item = await _session_of(session, festival, session_id)
    if festival.published_at is not None:
        raise PublishedSessionDelete(
            "The programme is published: cancel the session (PATCH status) instead",
            field="status",
        )
    await session.delete(item)
    await session.flush()


async def get_session(
    session: AsyncSession, principal: Principal | None, slug: str, session_id: uuid.UUID
) -> tuple[Session, ZoneInfo, bool]:
    """A session the principal may see, its festival's zone, and whether they manage it."""
    festival, manages = await readable_festival(session, principal, slug)
    item = await session.scalar(
        sessions_with_speakers().where(
            Session.id == session_id, visible_sessions(principal, festival)
        )
    )
    if item is None:
        raise NotFound(f"No session {session_id}")
    return item, festival_zone(festival), manages


async def list_sessions(
    session: AsyncSession,
    principal: Principal | None,
    slug: str,
    filters: SessionFilters,
    *,
    limit: int,
    cursor: str | None,
    details: bool = False,
) -> tuple[Sequence[Session], str | None, ZoneInfo, bool]:
    """A page of sessions by start time (``details`` also loads the track), the
    festival's zone, and whether the principal manages the festival.

    ``day`` is a calendar day in the festival's zone (a DST day is 23 or 25 hours).
    """
    festival, manages = await readable_festival(session, principal, slug)
    rows, next_cursor = await page_of(
        session, principal, festival, filters, limit=limit, cursor=cursor, details=details
    )
    return rows, next_cursor, festival_zone(festival), manages


async def page_of(
    session: AsyncSession,
    principal: Principal | None,
    festival: Festival,
    filters: SessionFilters,
    *,
    limit: int,
    cursor: str | None,
    details: bool = False,
) -> tuple[Sequence[Session], str | None]:
    """A page of the sessions of ``festival`` the principal may see, by start time."""
    zone = festival_zone(festival)
    stmt = (sessions_with_details() if details else sessions_with_speakers()).where(
        visible_sessions(principal, festival),
        session_filters(
            track_id=filters.track_id,
            room_id=filters.room_id,
            speaker_id=filters.speaker_id,
            status=filters.status,
            format=filters.format,
            between=day_bounds(filters.day, zone) if filters.day else None,
        ),
    )
    return await keyset_page(
        session, stmt, Session.starts_at, Session.id, limit=limit, cursor=cursor
    )


async def check_session(
    session: AsyncSession, festival: Festival, item: Session, speaker_ids: list[uuid.UUID]
) -> None:
    """Raise the first broken rule of ``item`` (not yet flushed) in ``festival``."""
    await check_references(session, festival.id, item.track_id, item.room_id, speaker_ids)
    check_times(festival, item.starts_at, item.ends_at)
    if item.status == "scheduled":
        await check_clashes(session, festival, item, speaker_ids)


async def check_references(
    session: AsyncSession,
    festival_id: uuid.UUID,
    track_id: uuid.UUID | None,
    room_id: uuid.UUID | None,
    speaker_ids: list[uuid.UUID],
) -> None:
    """Track, room and speakers must exist in this festival (422 naming the field)."""
    for model, ref, field in ((Track, track_id, "track_id"), (Room, room_id, "room_id")):
        if (
            ref is not None
            and not (await session.scalars(ids_in_festival(model, festival_id, [ref]))).first()
        ):
            raise Invalid(f"No {field.removesuffix('_id')} {ref} in this festival", field=field)
    if len(set(speaker_ids)) != len(speaker_ids):
        raise Invalid("A speaker is listed twice", field="speaker_ids")
    if speaker_ids:
        found = set(
            (await session.scalars(ids_in_festival(Speaker, festival_id, speaker_ids))).all()
        )
        missing = [str(i) for i in speaker_ids if i not in found]
        if missing:
            raise Invalid(f"No speaker {', '.join(missing)} in this festival", field="speaker_ids")


def check_times(festival: Festival, starts_at: datetime, ends_at: datetime) -> None:
    """End after start (422); within the festival's days in its own zone (409)."""
    if ends_at <= starts_at:
        raise Invalid("The session must end after it starts", field="ends_at")
    first, last = festival_bounds(festival)
    if starts_at < first or ends_at > last:
        raise OutsideFestival(
            f"The session must lie within the festival, {festival.starts_on.isoformat()} to "
            f"{festival.ends_on.isoformat()} ({festival.timezone})",
            field="starts_at" if not first <= starts_at < last else "ends_at",
            festival_starts_at=first.astimezone(festival_zone(festival)).isoformat(),
            festival_ends_at=last.astimezone(festival_zone(festival)).isoformat(),
        )


async def check_clashes(
    session: AsyncSession, festival: Festival, item: Session, speaker_ids: list[uuid.UUID]
) -> None:
    """No other scheduled session in the same room or with a shared speaker overlaps.

    Intervals are half-open: a session may start when the previous one ends.
    """
    exclude, festival_id, zone = item.id, festival.id, festival_zone(festival)
    if item.room_id is not None:
        other = await session.scalar(
            room_clash(festival_id, item.room_id, item.starts_at, item.ends_at, exclude)
        )
        if other is not None:
            detail = f"The room is booked for {other.title!r} at that time"
            raise _clash(other, zone, "room_id", detail)
    if speaker_ids:
        row = (
            await session.execute(
                speaker_clash(festival_id, speaker_ids, item.starts_at, item.ends_at, exclude)
            )
        ).first()
        if row is not None:
            other, speaker_name = row
            detail = f"{speaker_name} is in {other.title!r} at that time"
            raise _clash(other, zone, "speaker_ids", detail)


def _clash(other: Session, zone: ZoneInfo, field: str, detail: str) -> ScheduleClash:
    return ScheduleClash(
        detail,
        field=field,
        session_id=other.id,
        session_title=other.title,
        starts_at=other.starts_at.astimezone(zone),
        ends_at=other.ends_at.astimezone(zone),
    )


async def _set_speakers(session: AsyncSession, item: Session, speaker_ids: list[uuid.UUID]) -> None:
    if speaker_ids:
        await session.execute(
            insert(session_speakers),
            [
                {"session_id": item.id, "speaker_id": sid, "position": i}
                for i, sid in enumerate(speaker_ids)
            ],
        )


async def _reload(session: AsyncSession, session_id: uuid.UUID) -> Session:
    item = await session.scalar(
        sessions_with_speakers()
        .where(Session.id == session_id)
        .execution_options(populate_existing=True)
    )
    assert item is not None
    return item


async def _session_of(session: AsyncSession, festival: Festival, session_id: uuid.UUID) -> Session:
    item = await session.scalar(
        sessions_with_speakers().where(Session.id == session_id, Session.festival_id == festival.id)
    )
    if item is None:
        raise NotFound(f"No session {session_id}")
    return item


def _snap(item: Session, zone: ZoneInfo) -> dict[str, Any]:
    names = {s.id: s.name for s in item.speakers}
    return publishing.snapshot(item, zone, names)
