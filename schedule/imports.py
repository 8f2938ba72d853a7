"""Importing a programme from CSV or frab JSON: all or nothing, and idempotent.

The file is parsed whole first (every problem reported at once, naming row or
event and field); then rows are applied in order inside the caller's unit of
work, through the same checks as the API (clashes, festival dates), so the
first broken rule aborts the import and nothing is written. Sessions are
matched by the CSV ``id`` column or the frab ``guid`` (our own id, or the
``external_id`` kept from an earlier import); speakers by guid, else name;
rooms by guid, else name; tracks by name. A row equal to what is stored
writes nothing, so importing the same file twice changes nothing.

CSV: a header row, then one session a row. Required columns ``title``,
``starts_at``, ``ends_at`` (ISO 8601; without an offset, wall-clock time in the
festival's zone). Optional: ``id`` (match key for re-imports), ``abstract``,
``format`` (keynote, talk, workshop, panel, hackathon, break, other),
``track``, ``room`` (names; made when missing), ``speakers`` (names separated
by ``;``), ``capacity``, ``live_qa`` (yes/no), ``language``, ``stream_url``,
``status`` (scheduled/cancelled). Columns a file leaves out are left alone on
existing sessions. ``programme.csv`` is a valid import file.

frab JSON: a ``schedule.json`` as frab, pretalx or this server export it.

Not handled: CSV rows without an ``id`` cannot be matched and are added again
on a re-import (and then clash); sessions swapping slots within one file clash
if the earlier row is applied first.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.errors import FestivalError
from festival.models import Festival
from schedule.catalogue import managed_festival
from schedule.errors import ImportFailed, ImportTooLarge
from schedule.import_formats import Parsed, RoomRow, SessionRow, SpeakerRow, parse_csv
from schedule.import_frab import parse_frab
from schedule.models import Room, Session, Speaker, Track
from schedule.programme import add_session, change_session
from schedule.queries import sessions_with_speakers
from schedule.schemas import ImportSummary
from schedule.timing import festival_zone

Progress = Callable[[int, int], None]
KINDS = ("sessions", "speakers", "rooms", "tracks")


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body, or ``ImportTooLarge`` as soon as it passes ``limit`` bytes."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise ImportTooLarge(f"The file is larger than {limit // (1024 * 1024)} MiB")
    return bytes(body)


def detect_format(content_type: str, data: bytes) -> str:
    """``frab`` for JSON (by content type or a leading ``{``), else ``csv``."""
    media = content_type.split(";")[0].strip().lower()
    if media in ("application/json", "application/vnd.c3voc.schedule+json"):
        return "frab"
    if media in ("text/csv", "application/csv"):
        return "csv"
    return "frab" if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"


async def import_programme(
    session: AsyncSession,
    principal: Principal,
    slug: str,
    data: bytes,
    content_type: str = "",
    progress: Progress | None = None,
) -> ImportSummary:
    """Import ``data`` into the principal's festival; see the module docstring."""
    festival = await managed_festival(session, principal, slug)
    zone = festival_zone(festival)
    kind = detect_format(content_type, data)
    parsed = parse_frab(data, zone) if kind == "frab" else parse_csv(data, zone)
    return await apply_rows(session, festival, parsed, progress)


async def apply_rows(
    session: AsyncSession, festival: Festival, parsed: Parsed, progress: Progress | None = None
) -> ImportSummary:
    """Apply already-parsed rows to ``festival`` (managed and locked by the caller)."""
    return await _Importer(session, festival, parsed).run(progress)


SESSION_FIELDS = (
    "title",
    "abstract",
    "format",
    "starts_at",
    "ends_at",
    "capacity",
    "live_qa",
    "language",
    "stream_url",
    "status",
)


@dataclass
class _Importer:
    session: AsyncSession
    festival: Festival
    parsed: Parsed
    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    updated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    unchanged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    seen: set[tuple[str, uuid.UUID]] = field(default_factory=set)

    async def run(self, progress: Progress | None) -> ImportSummary:
        await self._load()
        total = len(self.parsed.sessions)
        for done, row in enumerate(self.parsed.sessions, start=1):
            try:
                await self._session(row)
            except FestivalError as exc:
                raise ImportFailed(_row_errors(row, exc)) from exc
            except IntegrityError as exc:
                raise ImportFailed(
                    [{"field": f"{row.where}: row", "message": "conflicts with stored data"}]
                ) from exc
            if progress is not None:
                progress(done, total)
        return ImportSummary(
            format=self.parsed.format,
            created=self.created,
            updated=self.updated,
            unchanged=self.unchanged,
        )

    async def _load(self) -> None:
        fid = self.festival.id
        db = self.session
        self.tracks = {
            t.name: t for t in await db.scalars(select(Track).where(Track.festival_id == fid))
        }
        self.rooms = _index(list(await db.scalars(select(Room).where(Room.festival_id == fid))))
        speakers = list(await db.scalars(select(Speaker).where(Speaker.festival_id == fid)))
        self.speakers = _index(speakers)
        self.speakers_by_name = {s.name.lower(): s for s in speakers}
        sessions = await db.scalars(sessions_with_speakers().where(Session.festival_id == fid))
        self.sessions = _index(list(sessions))

    def _count(self, kind: str, item_id: uuid.UUID, result: str) -> None:
        if (kind, item_id) in self.seen:
            return
        self.seen.add((kind, item_id))
        getattr(self, result)[kind] += 1

    async def _session(self, row: SessionRow) -> None:
        existing = self.sessions.get(row.key) if row.key else None
        # A new session takes the row's defaults for the columns the file leaves out
        # (format "talk", status "scheduled"); an existing one keeps what it has.
        fields: dict[str, Any] = {
            name: getattr(row, name)
            for name in SESSION_FIELDS
            if existing is None or name in row.present
        }
        if "track" in row.present:
            fields["track_id"] = (await self._track(row.track)).id if row.track else None
        if "room" in row.present:
            fields["room_id"] = (await self._room(row.room)).id if row.room else None
        speaker_ids = None
        if "speakers" in row.present:
            speaker_ids = [(await self._speaker(s)).id for s in row.speakers]
        if existing is None:
            item = await add_session(
                self.session, self.festival, fields, speaker_ids or [], external_id=row.key
            )
            self.sessions[str(item.id)] = item
            self._count("sessions", item.id, "created")
            return
        item, changed = await change_session(
            self.session, self.festival, existing, fields, speaker_ids
        )
        self._count("sessions", item.id, "updated" if changed else "unchanged")

    async def _track(self, name: str) -> Track:
        track = self.tracks.get(name)
        colour = self.parsed.track_colours.get(name)
        if track is None:
            track = Track(id=uuid.uuid4(), festival_id=self.festival.id, name=name, colour=colour)
            self.session.add(track)
            await self.session.flush()
            self.tracks[name] = track
            self._count("tracks", track.id, "created")
        elif colour and track.colour != colour:
            track.colour = colour
            self._count("tracks", track.id, "updated")
        else:
            self._count("tracks", track.id, "unchanged")
        return track

    async def _room(self, name: str) -> Room:
        spec = self.parsed.rooms.get(name) or RoomRow(name=name)
        room: Room | None = self.rooms.get(spec.key or "") or self.rooms.get(f"name:{name}")
        if room is None:
            room = Room(
                id=uuid.uuid4(),
                festival_id=self.festival.id,
                external_id=_external(spec.key),
                **_room_fields(spec),
            )
            self.session.add(room)
            await self.session.flush()
            self.rooms.update(_index([room]))
            self._count("rooms", room.id, "created")
            return room
        changes = {} if name not in self.parsed.rooms else _diff(room, _room_fields(spec))
        for attr, value in changes.items():
            setattr(room, attr, value)
        self._count("rooms", room.id, "updated" if changes else "unchanged")
        return room

    async def _speaker(self, spec: SpeakerRow) -> Speaker:
        speaker: Speaker | None = self.speakers.get(spec.key or "") or self.speakers_by_name.get(
            spec.name.lower()
        )
        wanted = {"name": spec.name, "bio": spec.bio, "organisation": spec.organisation}
        wanted = {k: v for k, v in wanted.items() if v is not None}
        if speaker is None:
            speaker = Speaker(
                id=uuid.uuid4(),
                festival_id=self.festival.id,
                external_id=_external(spec.key),
                **wanted,
            )
            self.session.add(speaker)
            await self.session.flush()
            self.speakers.update(_index([speaker]))
            self.speakers_by_name[spec.name.lower()] = speaker
            self._count("speakers", speaker.id, "created")
            return speaker
        changes = _diff(speaker, wanted)
        for attr, value in changes.items():
            setattr(speaker, attr, value)
        self._count("speakers", speaker.id, "updated" if changes else "unchanged")
        return speaker


def _index(items: list[Any]) -> dict[str, Any]:
    """Items by our id, by their imported id, and (rooms) by name."""
    found: dict[str, Any] = {}
    for item in items:
        found[str(item.id)] = item
        if item.external_id:
            found[item.external_id] = item
        if isinstance(item, Room | Speaker):
            found.setdefault(f"name:{item.name}", item)
    return found


def _external(key: str | None) -> str | None:
    return key[:200] if key else None


def _room_fields(spec: RoomRow) -> dict[str, Any]:
    fields = {
        "name": spec.name,
        "kind": spec.kind,
        "stream_url": spec.stream_url,
        "capacity": spec.capacity,
        "position": spec.position,
    }
    if not spec.says_stream:
        del fields["stream_url"]
    return fields


def _diff(item: Any, wanted: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wanted.items() if getattr(item, k) != v}


def _row_errors(row: SessionRow, exc: FestivalError) -> list[dict[str, str]]:
    errors = exc.extras.get("errors") or [{"field": "row", "message": exc.detail}]
    return [
        {
            "field": f"{row.where}: {e['field']}",
            "message": exc.detail if e["field"] else e["message"],
        }
        for e in errors
    ]
