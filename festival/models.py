"""Core tables: organiser accounts, tokens, festivals."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from festival.db import Base, IdMixin, TimestampMixin, utcnow

TOKEN_KINDS = ("organiser", "staff", "attendee", "feed", "projector")
STAFF_ROLES = ("moderator", "checkin")
FESTIVAL_MODES = ("online", "hybrid", "onsite")


class Account(IdMixin, TimestampMixin, Base):
    """An organiser who can sign in with an e-mail and a password."""

    __tablename__ = "accounts"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))


class Token(IdMixin, TimestampMixin, Base):
    """A bearer secret, stored only as its SHA-256 hash.

    ``subject_id`` names what the token acts for beyond an account: the
    registration of an attendee or feed token. It is deliberately not a foreign
    key, so the core schema knows nothing of the packages above it.
    """

    __tablename__ = "tokens"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('organiser', 'staff', 'attendee', 'feed', 'projector')", name="kind"
        ),
        Index("ix_tokens_festival_kind", "festival_id", "kind"),
        Index("ix_tokens_subject_id", "subject_id"),
    )

    kind: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE")
    )
    festival_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("festivals.id", ondelete="CASCADE")
    )
    role: Mapped[str | None] = mapped_column(String(20))
    session_ids: Mapped[list[str] | None] = mapped_column(JSON)
    subject_id: Mapped[uuid.UUID | None] = mapped_column()
    label: Mapped[str | None] = mapped_column(String(200))
    # The device an attendee signed in on by an e-mailed link (tickets.sign_in).
    device: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class Festival(IdMixin, TimestampMixin, Base):
    __tablename__ = "festivals"
    __table_args__ = (
        CheckConstraint("mode IN ('online', 'hybrid', 'onsite')", name="mode"),
        CheckConstraint("ends_on >= starts_on", name="dates"),
        CheckConstraint("capacity >= 0", name="capacity"),
    )

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    starts_on: Mapped[date] = mapped_column()
    ends_on: Mapped[date] = mapped_column()
    mode: Mapped[str] = mapped_column(String(10))
    capacity: Mapped[int] = mapped_column()
    description: Mapped[str | None] = mapped_column(Text)
    registration_opens_at: Mapped[datetime | None] = mapped_column()
    registration_closes_at: Mapped[datetime | None] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column()
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Registration without probing (tickets.confirmation): a registration is a
    # pending hold on a place until the link e-mailed to the address is followed.
    confirm_email: Mapped[bool] = mapped_column(default=False, server_default=false())
    confirm_hold_minutes: Mapped[int] = mapped_column(default=60, server_default="60")
    # Whether attendees on the waiting list join live sessions (read, ask, vote).
    waitlisted_live: Mapped[bool] = mapped_column(default=False, server_default=false())

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class IdempotentReply(Base):
    """The first reply to a mutating POST sent with an ``Idempotency-Key``."""

    __tablename__ = "idempotent_replies"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_digest: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[int] = mapped_column()
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
