"""The export feeds as use cases: validators first, rendering only when needed.

Calendar apps poll often, so every feed is answered in two steps. A single
aggregate query gives the programme's change stamp (counts and latest updates
of sessions, tracks, rooms, speakers and the change log); with the festival's
own ``updated_at`` and ``published_at`` it makes the ETag and Last-Modified. A
matching ``If-None-Match`` (or, without one, a fresh ``If-Modified-Since``)
stops there with nothing rendered. Otherwise the data is loaded in a fixed
number of queries and handed to the pure export functions.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.errors import NotFound
from festival.models import Festival
from schedule.catalogue import readable_festival
from schedule.exports.csv import programme_csv
from schedule.exports.frab import schedule_json, schedule_xml
from schedule.exports.ical import calendar_ics
from schedule.models import Room, Session, Speaker, Track
from schedule.queries import change_stamp, session_filters, sessions_with_details, visible_sessions

FeedKind = Literal["ics", "xml", "json", "csv"]
EXPORT_VERSION = "1"  # bump when the output of an export changes for the same data
MEDIA_TYPES = {
    "ics": "text/calendar; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
}
FILENAMES = {
    "ics": "calendar.ics",
    "xml": "schedule.xml",
    "json": "schedule.json",
    "csv": "programme.csv",
}


@dataclass(frozen=True)
class CalendarFilter:
    track_id: uuid.UUID | None = None
    room_id: uuid.UUID | None = None
    speaker_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Feed:
    """A rendered feed, or ``body=None`` when the client's copy is current."""

    body: bytes | None
    media_type: str
    etag: str
    last_modified: datetime
    filename: str
    render_ms: float = 0.0


async def export_feed(
    session: AsyncSession,
    principal: Principal | None,
    slug: str,
    kind: FeedKind,
    *,
    base_url: str,
    filters: CalendarFilter = CalendarFilter(),
    if_none_match: str | None = None,
    if_modified_since: datetime | None = None,
) -> Feed:
    """The ``kind`` feed of the programme the principal may read (public once published)."""
    festival, _ = await readable_festival(session, principal, slug)
    stamp = tuple((await session.execute(change_stamp(festival.id))).one())
    dates = [
        d for d in (festival.updated_at, festival.published_at, *stamp) if isinstance(d, datetime)
    ]
    last_modified = max(dates).astimezone(UTC).replace(microsecond=0)
    key = repr(
        (
            EXPORT_VERSION,
            kind,
            base_url,
            filters,
            festival.id,
            festival.updated_at,
            festival.published_at,
            stamp,
        )
    )
    etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'
    if _fresh(etag, last_modified, if_none_match, if_modified_since):
        return Feed(None, MEDIA_TYPES[kind], etag, last_modified, FILENAMES[kind])
    started = time.perf_counter()
    body = await _render(session, principal, festival, kind, base_url, filters, last_modified)
    render_ms = (time.perf_counter() - started) * 1000
    return Feed(body, MEDIA_TYPES[kind], etag, last_modified, FILENAMES[kind], render_ms)


def _fresh(
    etag: str,
    last_modified: datetime,
    if_none_match: str | None,
    if_modified_since: datetime | None,
) -> bool:
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    return if_modified_since is not None and last_modified <= if_modified_since


async def _render(
    session: AsyncSession,
    principal: Principal | None,
    festival: Festival,
    kind: FeedKind,
    base_url: str,
    filters: CalendarFilter,
    last_modified: datetime,
) -> bytes:
    stmt = sessions_with_details().where(
        visible_sessions(principal, festival),
        session_filters(
            track_id=filters.track_id, room_id=filters.room_id, speaker_id=filters.speaker_id
        ),
    )
    sessions = (await session.scalars(stmt.order_by(Session.starts_at, Session.id))).all()
    if kind == "ics":
        name = festival.name + await _filter_label(session, festival, filters)
        return calendar_ics(festival, sessions, name=name, base_url=base_url)
    if kind == "csv":
        return programme_csv(festival, sessions)
    tracks = (await session.scalars(select(Track).where(Track.festival_id == festival.id))).all()
    rooms = (await session.scalars(select(Room).where(Room.festival_id == festival.id))).all()
    render = schedule_json if kind == "json" else schedule_xml
    return render(
        festival, sessions, tracks, rooms, base_url=base_url, version=last_modified.isoformat()
    )


async def _filter_label(session: AsyncSession, festival: Festival, filters: CalendarFilter) -> str:
    """`` - <name>`` of the filtered track, room or speaker; NotFound if it is not here."""
    parts: list[str] = []
    wanted: Sequence[tuple[type[Track | Room | Speaker], uuid.UUID | None, str]] = (
        (Track, filters.track_id, "track"),
        (Room, filters.room_id, "room"),
        (Speaker, filters.speaker_id, "speaker"),
    )
    for model, item_id, noun in wanted:
        if item_id is None:
            continue
        name = await session.scalar(
            select(model.name).where(model.id == item_id, model.festival_id == festival.id)
        )
        if name is None:
            raise NotFound(f"No {noun} {item_id} in this festival", field=noun)
        parts.append(name)
    return "".join(f" - {p}" for p in parts)
