"""The change log of a published programme, and the events participants hear of.

Before the festival is published its sessions are drafts: they change freely
and nothing is recorded. After ``published_at``, every change that matters to
a participant is written to ``programme_changes``, raises the session's iCal
``SEQUENCE`` once per update, and is announced as :class:`SessionChanged` in
the same transaction (so a subscriber's outbox row commits with it).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from festival import events
from festival.auth import Principal
from festival.db import utcnow
from festival.models import Festival
from festival.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from schedule.catalogue import readable_festival
from schedule.events import ChangeKind, SessionChanged
from schedule.models import ProgrammeChange, Session
from schedule.queries import changes_of

Snapshot = dict[str, Any]


def snapshot(session: Session, zone: ZoneInfo, speaker_names: dict[uuid.UUID, str]) -> Snapshot:
    """What participants care about in a session, as JSON-ready values."""
    ids = [s.id for s in session.speakers] if "speakers" in session.__dict__ else []
    return {
        "title": session.title,
        "starts_at": session.starts_at.astimezone(zone).isoformat(),
        "ends_at": session.ends_at.astimezone(zone).isoformat(),
        "room_id": str(session.room_id) if session.room_id else None,
        "status": session.status,
        "speaker_ids": [str(i) for i in ids],
        "speakers": [speaker_names.get(i, "") for i in ids],
    }


_KIND_FIELDS: list[tuple[ChangeKind, tuple[str, ...]]] = [
    ("moved", ("starts_at", "ends_at", "room_id")),
    ("retitled", ("title",)),
    ("speakers", ("speaker_ids", "speakers")),
]


def changes_between(
    before: Snapshot, after: Snapshot
) -> list[tuple[ChangeKind, Snapshot, Snapshot]]:
    """The participant-visible changes from ``before`` to ``after``, one per kind."""
    found: list[tuple[ChangeKind, Snapshot, Snapshot]] = []
    if before["status"] != after["status"]:
        kind: ChangeKind = "cancelled" if after["status"] == "cancelled" else "added"
        found.append((kind, {"status": before["status"]}, {"status": after["status"]}))
    for kind, names in _KIND_FIELDS:
        if any(before[n] != after[n] for n in names):
            found.append((kind, {n: before[n] for n in names}, {n: after[n] for n in names}))
    return found


async def record(
    session: AsyncSession,
    festival: Festival,
    item: Session,
    changes: list[tuple[ChangeKind, Snapshot | None, Snapshot | None]],
) -> None:
    """Log and announce ``changes`` of ``item`` if the programme is published.

    ``SEQUENCE`` rises once for the whole update, however many kinds changed;
    a newly added session keeps ``SEQUENCE`` 0.
    """
    if festival.published_at is None or not changes:
        return
    if any(kind != "added" or before is not None for kind, before, _ in changes):
        item.sequence += 1
    at = utcnow()
    item.updated_at = at
    for kind, before, after in changes:
        session.add(
            ProgrammeChange(
                id=uuid.uuid4(),
                festival_id=festival.id,
                session_id=item.id,
                title=item.title,
                kind=kind,
                at=at,
                before=before,
                after=after,
            )
        )
    await session.flush()
    for kind, before, after in changes:
        await events.announce(
            session,
            SessionChanged(
                festival_id=festival.id,
                session_id=item.id,
                kind=kind,
                title=item.title,
                before=before,
                after=after,
                sequence=item.sequence,
            ),
        )


async def list_changes(
    session: AsyncSession,
    principal: Principal | None,
    slug: str,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[ProgrammeChange], str | None, ZoneInfo]:
    """What changed since publication, newest first, a page at a time."""
    from schedule.timing import festival_zone

    festival, _ = await readable_festival(session, principal, slug)
    limit = max(1, min(limit, MAX_LIMIT))
    stmt = changes_of(festival.id)
    if cursor:
        last_at, last_id = decode_cursor(cursor)
        if not isinstance(last_at, datetime):
            from festival.errors import Invalid

            raise Invalid("The cursor is not one this server gave out", field="cursor")
        stmt = stmt.where(tuple_(ProgrammeChange.at, ProgrammeChange.id) < tuple_(last_at, last_id))
    stmt = stmt.order_by(ProgrammeChange.at.desc(), ProgrammeChange.id.desc()).limit(limit + 1)
    rows = (await session.scalars(stmt)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].at, rows[-1].id)
    return rows, next_cursor, festival_zone(festival)
