"""The export feeds as use cases: validators first, rendering only when needed.

Calendar apps poll often, so every feed is answered in two steps. A single
query gives the programme's change stamp (counts and latest updates
of sessions, tracks, rooms, speakers and the change log); with the festival's
own ``updated_at`` and ``published_at`` it makes the ETag and Last-Modified. A
matching ``If-None-Match`` (or, without one, a fresh ``If-Modified-Since``)
stops there with nothing rendered. Otherwise the body comes from a small
per-process cache keyed by that ETag, or the data is loaded in a fixed number
of queries and handed to the pure export functions.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.errors import NotFound
from festival.models import Festival
from festival.schemas import Page
from schedule.catalogue import readable_festival_stamped
from schedule.exports.csv import programme_csv
from schedule.exports.frab import schedule_json, schedule_xml
from schedule.exports.ical import calendar_ics
from schedule.models import Room, Speaker, Track
from schedule.programme import SessionFilters, page_of
from schedule.queries import load_programme, may_manage, session_filters, visible_sessions
from schedule.schemas import ProgrammeItem, ProgrammePrivateItem, programme_item
from schedule.timing import festival_zone

FeedKind = Literal["ics", "xml", "json", "csv"]
EXPORT_VERSION = "3"  # bump when the output of an export changes for the same data
MEDIA_TYPES = {
    "ics": "text/calendar; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "programme": "application/json",
}
FILENAMES = {
    "ics": "calendar.ics",
    "xml": "schedule.xml",
    "json": "schedule.json",
    "csv": "programme.csv",
    "programme": "programme.json",
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
    # A draft programme is for its organisers only: no shared cache may keep it.
    public: bool = True


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
    """The ``kind`` feed of the programme the principal may read (public once published).

    The festival's organisers get the stream URLs in ``schedule.json`` and
    ``programme.csv`` (so that their own export imports back whole); everybody
    else gets each session's ``join_url`` instead.
    """
    festival, stamp = await readable_festival_stamped(session, principal, slug)
    private = may_manage(principal, festival)

    async def render() -> bytes:
        return await _render(session, principal, festival, kind, base_url, filters, private)

    key = (kind, base_url, filters, private)
    return await _answer(
        festival, stamp, key, kind, render, if_none_match, if_modified_since, private
    )


async def programme_page(
    session: AsyncSession,
    principal: Principal | None,
    slug: str,
    filters: SessionFilters,
    *,
    base_url: str,
    limit: int,
    cursor: str | None,
    if_none_match: str | None = None,
) -> Feed:
    """A page of the programme as JSON, with the feeds' validators and cache.

    Readers of a busy festival ask for the same pages again and again; keyed by
    the change stamp, a page is rendered once per change, not once per reader.
    Its organisers' pages carry the stream URLs, and are kept apart.
    """
    festival, stamp = await readable_festival_stamped(session, principal, slug)
    private = may_manage(principal, festival)

    async def render() -> bytes:
        rows, next_cursor = await page_of(
            session, principal, festival, filters, limit=limit, cursor=cursor, details=True
        )
        zone = festival_zone(festival)
        items = [programme_item(r, zone, base_url, private) for r in rows]
        page = Page[ProgrammeItem | ProgrammePrivateItem](items=items, next_cursor=next_cursor)
        return page.model_dump_json().encode()

    key = ("programme", filters, limit, cursor, base_url, private)
    return await _answer(festival, stamp, key, "programme", render, if_none_match, None, private)


async def _answer(
    festival: Festival,
    stamp: tuple[Any, ...],
    key: tuple[object, ...],
    kind: str,
    render: Callable[[], Awaitable[bytes]],
    if_none_match: str | None,
    if_modified_since: datetime | None,
    private: bool,
) -> Feed:
    moments = (festival.updated_at, festival.published_at, *stamp[1::2], stamp[-1])
    last_modified = max(d for d in moments if d is not None).astimezone(UTC).replace(microsecond=0)
    parts = (EXPORT_VERSION, key, festival.id, festival.updated_at, festival.published_at, stamp)
    etag = '"' + hashlib.sha256(repr(parts).encode()).hexdigest()[:32] + '"'
    media_type, filename = MEDIA_TYPES[kind], FILENAMES[kind]
    # A draft, or what only organisers see: no shared cache may keep it.
    public = festival.published_at is not None and not private
    if _fresh(etag, last_modified, if_none_match, if_modified_since):
        return Feed(None, media_type, etag, last_modified, filename, 0.0, public)
    started = time.perf_counter()
    body = _rendered.get(etag)
    if body is None:
        body = await render()
        _rendered.put(etag, body)
    render_ms = (time.perf_counter() - started) * 1000
    return Feed(body, media_type, etag, last_modified, filename, render_ms, public)


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
    private: bool,
) -> bytes:
    condition = and_(
        visible_sessions(principal, festival),
        session_filters(
            track_id=filters.track_id, room_id=filters.room_id, speaker_id=filters.speaker_id
        ),
    )
    sessions, tracks, rooms = await load_programme(session, festival.id, condition)
    if kind == "ics":
        name = festival.name + await _filter_label(session, festival, filters)
        return calendar_ics(festival, sessions, name=name, base_url=base_url)
    if kind == "csv":
        return programme_csv(festival, sessions, base_url=base_url, private=private)
    version = max((s.updated_at for s in sessions), default=festival.updated_at).isoformat()
    if kind == "json":
        return schedule_json(
            festival, sessions, tracks, rooms, base_url=base_url, version=version, private=private
        )
    return schedule_xml(festival, sessions, tracks, rooms, base_url=base_url, version=version)


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


class _Rendered:
    """Rendered feeds by ETag, least recently used out first, bounded in bytes.

    Safe because the ETag is made of the change stamp: any change to the data
    gives a new key, so an entry can be evicted but never be stale. Per process.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.size = max_bytes, 0
        self.entries: OrderedDict[str, bytes] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        body = self.entries.get(key)
        if body is not None:
            self.entries.move_to_end(key)
        return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.max_bytes // 4 or key in self.entries:
            return
        self.entries[key] = body
        self.size += len(body)
        while self.size > self.max_bytes:
            _, old = self.entries.popitem(last=False)
            self.size -= len(old)


_rendered = _Rendered(max_bytes=64 * 1024 * 1024)
