"""Tables of the programme: tracks, rooms, speakers, sessions and the change log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from festival.db import Base, IdMixin, TimestampMixin, utcnow

SESSION_FORMATS = ("keynote", "talk", "workshop", "panel", "hackathon", "break", "other")
ROOM_KINDS = ("physical", "virtual")
CHANGE_KINDS = ("added", "moved", "retitled", "cancelled", "speakers")

session_speakers = Table(
    "session_speakers",
    Base.metadata,
    Column("session_id", ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("speaker_id", ForeignKey("speakers.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
    Index("ix_session_speakers_speaker_id", "speaker_id"),
)


class Track(IdMixin, TimestampMixin, Base):
    __tablename__ = "tracks"
    __table_args__ = (UniqueConstraint("festival_id", "name"),)

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    colour: Mapped[str | None] = mapped_column(String(7))
    description: Mapped[str | None] = mapped_column(Text)
    # Added for the feeds' change stamp (ETag / Last-Modified).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Room(IdMixin, TimestampMixin, Base):
    """A physical room or a virtual stage (with a stream URL)."""

    __tablename__ = "rooms"
    __table_args__ = (
        UniqueConstraint("festival_id", "name"),
        CheckConstraint("kind IN ('physical', 'virtual')", name="kind"),
    )

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    capacity: Mapped[int | None] = mapped_column()
    stream_url: Mapped[str | None] = mapped_column(String(2000))
    position: Mapped[int] = mapped_column(default=0)
    external_id: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Speaker(IdMixin, TimestampMixin, Base):
    __tablename__ = "speakers"
    __table_args__ = (Index("ix_speakers_festival_id", "festival_id"),)

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    bio: Mapped[str | None] = mapped_column(Text)
    organisation: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    external_id: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Session(IdMixin, TimestampMixin, Base):
    """A programme item. ``sequence`` is its iCal SEQUENCE: it rises with every
    published change that matters to a participant, and the UID never changes."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="times"),
        CheckConstraint(
            "format IN ('keynote', 'talk', 'workshop', 'panel', 'hackathon', 'break', 'other')",
            name="format",
        ),
        CheckConstraint("status IN ('scheduled', 'cancelled')", name="status"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity"),
        CheckConstraint(
            "no_show_minutes IS NULL OR (no_show_minutes >= 1 AND no_show_minutes <= 1440)",
            name="no_show_minutes",
        ),
        Index("ix_sessions_festival_starts", "festival_id", "starts_at"),
        Index("ix_sessions_room_starts", "room_id", "starts_at"),
        # Feeds read max(updated_at) per festival on every poll (the ETag's change stamp).
        Index("ix_sessions_festival_updated", "festival_id", "updated_at"),
        UniqueConstraint("festival_id", "external_id"),
    )

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    abstract: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(20))
    track_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tracks.id", ondelete="SET NULL"), index=True
    )
    room_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    capacity: Mapped[int | None] = mapped_column()
    # Minutes after the start when seats nobody was scanned in for go to the seat
    # waiting list (tickets.no_shows); None: they are kept to the end.
    no_show_minutes: Mapped[int | None] = mapped_column(default=10, server_default="10")
    live_qa: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(35))
    stream_url: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    sequence: Mapped[int] = mapped_column(default=0)
    external_id: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    speakers: Mapped[list[Speaker]] = relationship(
        secondary=session_speakers, order_by=session_speakers.c.position, lazy="raise"
    )
    track: Mapped[Track | None] = relationship(lazy="raise")
    room: Mapped[Room | None] = relationship(lazy="raise")


class ProgrammeChange(IdMixin, Base):
    """One change to a published programme, as participants would want to hear of it."""

    __tablename__ = "programme_changes"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('added', 'moved', 'retitled', 'cancelled', 'speakers')", name="kind"
        ),
        Index("ix_programme_changes_festival_at", "festival_id", "at"),
    )

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
