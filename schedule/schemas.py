"""Pydantic shapes of the programme: ``XCreate`` / ``XUpdate`` / ``XRead``.

Times go in as ISO 8601 with an offset and come out in the festival's zone
(the read shapes are built by :func:`session_read`, which knows the zone).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, Field

from festival.schemas import Input, Output
from schedule.exports import public_join_url
from schedule.models import Session

Format = Literal["keynote", "talk", "workshop", "panel", "hackathon", "break", "other"]
RoomKind = Literal["physical", "virtual"]
Status = Literal["scheduled", "cancelled"]
COLOUR = r"^#[0-9a-fA-F]{6}$"
Url = Annotated[str, Field(max_length=2000, pattern=r"^https?://[^\s/$.?#][^\s]*$")]
# Minutes after a session's start when seats nobody was scanned in for go to its
# seat waiting list (tickets.no_shows); null: never.
NoShowMinutes = Annotated[int | None, Field(ge=1, le=1440)]


class TrackCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    colour: str | None = Field(default=None, pattern=COLOUR)
    description: str | None = Field(default=None, max_length=20_000)


class TrackUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    colour: str | None = Field(default=None, pattern=COLOUR)
    description: str | None = Field(default=None, max_length=20_000)


class TrackRead(Output):
    id: uuid.UUID
    name: str
    colour: str | None
    description: str | None


class RoomCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    kind: RoomKind = "physical"
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    stream_url: Url | None = None
    position: int = Field(default=0, ge=0, le=10_000)


class RoomUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: RoomKind | None = None
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    stream_url: Url | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)


class RoomRead(Output):
    """What anybody may see of a room (no stream URL: see :mod:`schedule.stage`)."""

    id: uuid.UUID
    name: str
    kind: RoomKind
    capacity: int | None
    position: int


class RoomPrivateRead(RoomRead):
    """What the festival's organisers see of a room."""

    stream_url: str | None


class SpeakerCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    bio: str | None = Field(default=None, max_length=20_000)
    organisation: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")


class SpeakerUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    bio: str | None = Field(default=None, max_length=20_000)
    organisation: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")


class SpeakerRead(Output):
    """What anybody may see of a speaker (no e-mail)."""

    id: uuid.UUID
    name: str
    bio: str | None
    organisation: str | None


class SpeakerPrivateRead(SpeakerRead):
    """What the festival's organisers see of a speaker."""

    email: str | None


class SessionCreate(Input):
    title: str = Field(min_length=1, max_length=300)
    abstract: str | None = Field(default=None, max_length=50_000)
    format: Format = "talk"
    track_id: uuid.UUID | None = None
    room_id: uuid.UUID | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    speaker_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    no_show_minutes: NoShowMinutes = 10
    live_qa: bool = False
    language: str | None = Field(default=None, max_length=35, pattern=r"^[A-Za-z]{2,8}(-\w+)*$")
    stream_url: Url | None = None


class SessionUpdate(Input):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    abstract: str | None = Field(default=None, max_length=50_000)
    format: Format | None = None
    track_id: uuid.UUID | None = None
    room_id: uuid.UUID | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    speaker_ids: list[uuid.UUID] | None = Field(default=None, max_length=50)
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    no_show_minutes: NoShowMinutes = None
    live_qa: bool | None = None
    language: str | None = Field(default=None, max_length=35, pattern=r"^[A-Za-z]{2,8}(-\w+)*$")
    stream_url: Url | None = None
    status: Status | None = None


class SessionRead(BaseModel):
    """A session, its times in the festival's zone (ISO 8601 with that offset)."""

    id: uuid.UUID
    title: str
    abstract: str | None
    format: Format
    track_id: uuid.UUID | None
    room_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    speaker_ids: list[uuid.UUID]
    capacity: int | None
    no_show_minutes: int | None = Field(
        default=10, description="Minutes after the start when unscanned seats go to those waiting"
    )
    live_qa: bool
    language: str | None
    # The live page, where those let in find the stream (None: the session has none).
    join_url: str | None
    status: Status
    sequence: int


class SessionPrivateRead(SessionRead):
    """A session as its organisers see it: with the stream URL they set."""

    stream_url: str | None


class TrackRef(BaseModel):
    id: uuid.UUID
    name: str
    colour: str | None


class RoomRef(BaseModel):
    id: uuid.UUID
    name: str
    kind: RoomKind


class RoomPrivateRef(RoomRef):
    stream_url: str | None


class SpeakerRef(BaseModel):
    id: uuid.UUID
    name: str
    organisation: str | None


class ProgrammeItem(SessionRead):
    """A session of the published programme, with what a reader needs beside it."""

    track: TrackRef | None
    room: RoomRef | None
    speakers: list[SpeakerRef]


class ProgrammePrivateItem(SessionPrivateRead):
    """A programme entry as the festival's organisers see it (stream URLs and all)."""

    track: TrackRef | None
    room: RoomPrivateRef | None
    speakers: list[SpeakerRef]


class JoinRead(BaseModel):
    """Where a participant finds a session's stream (``GET /sessions/{id}/join``)."""

    url: str
    embed_url: str | None = Field(description="The provider's player, for a frame; else null")
    provider: str | None = Field(description="youtube, vimeo, peertube, jitsi, bigbluebutton")
    opens_at: datetime


class StageItem(BaseModel):
    """A session on the stage board: what it is, where, and how many are in its live room."""

    id: uuid.UUID
    title: str
    format: Format
    starts_at: datetime
    ends_at: datetime
    track: TrackRef | None
    room: RoomRef | None
    speakers: list[SpeakerRef]
    live_qa: bool
    join_url: str | None
    presence: int = Field(description="People in its live room now, as this server sees it")


class StageRead(BaseModel):
    """``GET /festivals/{slug}/now``: the sessions on now, and those that start next."""

    at: datetime
    now: list[StageItem]
    next: list[StageItem]


class ChangeRead(BaseModel):
    session_id: uuid.UUID
    title: str
    kind: Literal["added", "moved", "retitled", "cancelled", "speakers"]
    at: datetime
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class ImportSummary(BaseModel):
    """What an import did: counts per kind of thing."""

    format: Literal["csv", "frab"]
    created: dict[str, int]
    updated: dict[str, int]
    unchanged: dict[str, int]


def session_read(
    session: Session, zone: ZoneInfo, base_url: str, private: bool = False
) -> SessionRead:
    """The read shape of a session whose speakers and room are loaded; ``private``
    (its organisers) adds the stream URL."""
    fields = _session_fields(session, zone, base_url)
    if private:
        return SessionPrivateRead(**fields, stream_url=session.stream_url)
    return SessionRead(**fields)


def programme_item(
    session: Session, zone: ZoneInfo, base_url: str, private: bool = False
) -> ProgrammeItem | ProgrammePrivateItem:
    """A programme entry; speakers, track and room must be loaded."""
    track, room = session.track, session.room
    around: dict[str, Any] = {
        "track": TrackRef(id=track.id, name=track.name, colour=track.colour) if track else None,
        "speakers": [
            SpeakerRef(id=s.id, name=s.name, organisation=s.organisation) for s in session.speakers
        ],
    }
    fields = _session_fields(session, zone, base_url) | around
    if private:
        ref = (
            RoomPrivateRef(id=room.id, name=room.name, kind=room.kind, stream_url=room.stream_url)
            if room
            else None
        )
        return ProgrammePrivateItem(**fields, room=ref, stream_url=session.stream_url)
    public_ref = RoomRef(id=room.id, name=room.name, kind=room.kind) if room else None
    return ProgrammeItem(**fields, room=public_ref)


def _session_fields(session: Session, zone: ZoneInfo, base_url: str) -> dict[str, Any]:
    return {
        "id": session.id,
        "title": session.title,
        "abstract": session.abstract,
        "format": session.format,
        "track_id": session.track_id,
        "room_id": session.room_id,
        "starts_at": session.starts_at.astimezone(zone),
        "ends_at": session.ends_at.astimezone(zone),
        "speaker_ids": [s.id for s in session.speakers],
        "capacity": session.capacity,
        "no_show_minutes": session.no_show_minutes,
        "live_qa": session.live_qa,
        "language": session.language,
        "join_url": public_join_url(base_url, session),
        "status": session.status,
        "sequence": session.sequence,
    }
