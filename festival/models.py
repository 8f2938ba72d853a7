"""Core tables: organiser accounts, tokens, festivals."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from festival.db import Base, IdMixin, TimestampMixin, utcnow

TOKEN_KINDS = ("organiser", "staff", "attendee", "feed", "projector")
STAFF_ROLES = ("moderator", "checkin")
FESTIVAL_MODES = ("online", "hybrid", "onsite")
TEAM_ROLES = ("owner", "editor", "registrations", "viewer")
RETENTION_DAYS = 180


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
    # A hybrid festival's online places (capacity is the hall's); None: no limit.
    online_capacity: Mapped[int | None] = mapped_column()
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
    # Minutes before a session its attendees get a reminder (tickets.reminders); 0: none.
    reminder_minutes: Mapped[int] = mapped_column(default=15, server_default="15")
    # Whether attendees on the waiting list join live sessions (read, ask, vote).
    waitlisted_live: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Personal data is purged this many days after the festival ends (festival.retention).
    retention_days: Mapped[int] = mapped_column(
        default=RETENTION_DAYS, server_default=str(RETENTION_DAYS)
    )
    personal_data_purged_at: Mapped[datetime | None] = mapped_column()
    # The terms an attendee agrees to; a new text is a new version, asked again.
    terms: Mapped[str | None] = mapped_column(Text)
    terms_version: Mapped[str | None] = mapped_column(String(64))

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class FestivalMember(IdMixin, TimestampMixin, Base):
    """An organiser account's role in one festival's team (:mod:`festival.members`).

    ``Festival.owner_id`` (the account that created it) is always an owner too,
    with or without a row here.
    """

    __tablename__ = "festival_members"
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'editor', 'registrations', 'viewer')", name="role"),
        UniqueConstraint("festival_id", "account_id"),
        Index("ix_festival_members_account", "account_id"),
    )

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))


class Invitation(IdMixin, TimestampMixin, Base):
    """An e-mailed invitation to a festival's team; only the code's SHA-256 is kept."""

    __tablename__ = "festival_invitations"
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'editor', 'registrations', 'viewer')", name="role"),
        Index("ix_festival_invitations_festival", "festival_id", "created_at"),
    )

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column()


class PasswordReset(IdMixin, TimestampMixin, Base):
    """An e-mailed link to set an organiser's password (:mod:`festival.passwords`);
    only the code's SHA-256 is kept."""

    __tablename__ = "password_resets"
    __table_args__ = (Index("ix_password_resets_account", "account_id", "created_at"),)

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class PrivacyLogEntry(IdMixin, Base):
    """An organiser's export or erasure of one attendee's data, or a retention purge."""

    __tablename__ = "privacy_log"
    __table_args__ = (
        CheckConstraint("action IN ('export', 'erase', 'purge')", name="action"),
        Index("ix_privacy_log_festival", "festival_id", "at"),
    )

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(10))
    actor_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    registration_id: Mapped[uuid.UUID | None] = mapped_column()
    detail: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotentReply(Base):
    """The first reply to a mutating POST sent with an ``Idempotency-Key``."""

    __tablename__ = "idempotent_replies"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_digest: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[int] = mapped_column()
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
