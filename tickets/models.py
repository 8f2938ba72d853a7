"""Tables of tickets: registrations, tickets, seats, favourites, check-ins, outbox.

Invariants that concurrency could break live here, in the database:
- a festival's places are rows of ``places`` numbered 1..capacity; a confirmed
  registration holds one (a unique key), taken by a conditional
  ``UPDATE ... WHERE registration_id IS NULL AND number <= capacity``;
- a session's seats are counted in ``session_seats.taken`` and only taken by a
  conditional ``UPDATE ... WHERE taken < capacity``;
- one live check-in per ticket and list: a partial unique index over live rows,
  so denied scans and reverted check-ins never collide with a new one;
- one active registration per e-mail and festival, one active reservation per
  attendee and session: partial unique indexes over the non-cancelled rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from festival.db import Base, IdMixin, TimestampMixin, utcnow

REGISTRATION_STATUSES = ("pending", "confirmed", "waitlisted", "cancelled")
PARTICIPATIONS = ("onsite", "online")
SEAT_STATUSES = ("confirmed", "waitlisted", "released")
CHECKIN_RESULTS = (
    "ok",
    "already_checked_in",
    "invalid",
    "revoked",
    "wrong_list",
    "wrong_festival",
    "reverted",
)
FESTIVAL_LIST = "festival"


class Ticketing(Base):
    """Per festival: the waiting-list sequence and the signing key.

    ``bundle_version`` rises with every revocation, so offline scanners can tell
    a stale bundle.
    """

    __tablename__ = "ticketing"

    festival_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("festivals.id", ondelete="CASCADE"), primary_key=True
    )
    waitlist_seq: Mapped[int] = mapped_column(default=0)
    bundle_version: Mapped[int] = mapped_column(default=1)
    private_key: Mapped[bytes] = mapped_column(LargeBinary(64))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Place(Base):
    """One place of a festival's line (on site or online), numbered from 1; held by
    at most one registration.

    Places are rows rather than one counter so that concurrent registrations
    claim different rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) instead of
    queueing on a single hot row. Rows are made lazily, never beyond capacity.
    """

    __tablename__ = "places"
    __table_args__ = (
        CheckConstraint("participation IN ('onsite', 'online')", name="participation"),
        Index(
            "ix_places_free",
            "festival_id",
            "participation",
            "number",
            sqlite_where=text("registration_id IS NULL"),
            postgresql_where=text("registration_id IS NULL"),
        ),
    )

    festival_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("festivals.id", ondelete="CASCADE"), primary_key=True
    )
    participation: Mapped[str] = mapped_column(String(8), primary_key=True, server_default="onsite")
    number: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL"), unique=True
    )


class Registration(IdMixin, TimestampMixin, Base):
    __tablename__ = "registrations"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'confirmed', 'waitlisted', 'cancelled')", name="status"
        ),
        Index(
            "uq_registrations_active_email",
            "festival_id",
            "email",
            unique=True,
            sqlite_where=text("status != 'cancelled'"),
            postgresql_where=text("status != 'cancelled'"),
        ),
        Index("ix_registrations_festival_status", "festival_id", "status", "created_at"),
        # Only the waiting list: "is anyone waiting?" on every registration, and
        # promotion in order, stay one small index probe however many registered.
        CheckConstraint("participation IN ('onsite', 'online')", name="participation"),
        Index(
            "ix_registrations_waiting",
            "festival_id",
            "participation",
            "waitlist_seq",
            sqlite_where=text("status = 'waitlisted'"),
            postgresql_where=text("status = 'waitlisted'"),
        ),
    )

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    organisation: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12))
    waitlist_seq: Mapped[int | None] = mapped_column()
    confirmed_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()
    # A pending registration (``Festival.confirm_email``) lapses at this time.
    hold_expires_at: Mapped[datetime | None] = mapped_column()
    # On site or online (tickets.participation): each has its own places and line.
    participation: Mapped[str] = mapped_column(String(8), server_default="onsite")
    # Whether the attendee gets an e-mail before their sessions (tickets.reminders).
    reminders: Mapped[bool] = mapped_column(default=True, server_default=true())
    # What the attendee agreed to, and when (tickets.consent).
    consent_terms_version: Mapped[str | None] = mapped_column(String(64))
    consent_photo: Mapped[bool | None] = mapped_column()
    consent_contact: Mapped[bool | None] = mapped_column()
    consent_at: Mapped[datetime | None] = mapped_column()


class Ticket(IdMixin, TimestampMixin, Base):
    """The ticket of a confirmed registration. A payload is valid only for the
    current ``version`` of a ticket that is not revoked."""

    __tablename__ = "tickets"

    registration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), unique=True
    )
    festival_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("festivals.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(default=1)
    revoked_at: Mapped[datetime | None] = mapped_column()


class SessionSeats(Base):
    """The seat counter of a session with a capacity (created on first reservation)."""

    __tablename__ = "session_seats"
    __table_args__ = (CheckConstraint("taken >= 0", name="taken"),)

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    taken: Mapped[int] = mapped_column(default=0)
    waitlist_seq: Mapped[int] = mapped_column(default=0)
    # The start time whose no-show seats were released (tickets.no_shows): a
    # conditional update of it lets one process release them, once per start.
    no_shows_for: Mapped[datetime | None] = mapped_column()


class SeatReservation(IdMixin, TimestampMixin, Base):
    __tablename__ = "seat_reservations"
    __table_args__ = (
        CheckConstraint("status IN ('confirmed', 'waitlisted', 'released')", name="status"),
        Index(
            "uq_seat_reservations_active",
            "registration_id",
            "session_id",
            unique=True,
            sqlite_where=text("status != 'released'"),
            postgresql_where=text("status != 'released'"),
        ),
        Index("ix_seat_reservations_session_status", "session_id", "status", "waitlist_seq"),
    )

    registration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE")
    )
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12))
    waitlist_seq: Mapped[int | None] = mapped_column()
    released_at: Mapped[datetime | None] = mapped_column()


class Favourite(Base):
    __tablename__ = "favourites"

    registration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), primary_key=True
    )
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Checkin(IdMixin, Base):
    """One scan, kept for ever: granted, denied, or the revert of a granted one.

    ``live`` marks the granted check-in that currently counts for a ticket and a
    list; a partial unique index allows one. ``scan_key`` identifies an offline
    scan (device, payload, time) so that a re-sent batch changes nothing.
    """

    __tablename__ = "checkins"
    __table_args__ = (
        CheckConstraint(
            "result IN ('ok', 'already_checked_in', 'invalid', 'revoked', 'wrong_list', "
            "'wrong_festival', 'reverted')",
            name="result",
        ),
        Index(
            "uq_checkins_live",
            "ticket_id",
            "list_key",
            unique=True,
            sqlite_where=text("live"),
            postgresql_where=text("live"),
        ),
        Index("uq_checkins_scan_key", "festival_id", "scan_key", unique=True),
        Index("ix_checkins_festival_scanned", "festival_id", "scanned_at"),
    )

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE")
    )
    list_key: Mapped[str] = mapped_column(String(40))
    result: Mapped[str] = mapped_column(String(20))
    live: Mapped[bool] = mapped_column(Boolean, default=False)
    gate: Mapped[str | None] = mapped_column(String(100))
    device_id: Mapped[str | None] = mapped_column(String(100))
    scan_key: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str | None] = mapped_column(String(400))
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    reverts_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("checkins.id", ondelete="SET NULL")
    )
    staff_token_id: Mapped[uuid.UUID | None] = mapped_column()
    reply: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CheckinDevice(IdMixin, Base):
    """A scanner a check-in token registered: offline scans sync only as one of these.

    Its ``id`` is the server's, so a device cannot be named by guessing; it
    belongs to the token that registered it (``staff_token_id``), and the
    organiser may revoke it (``revoked_at``): its scans are then refused.
    """

    __tablename__ = "checkin_devices"
    __table_args__ = (Index("ix_checkin_devices_festival", "festival_id", "created_at"),)

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    staff_token_id: Mapped[uuid.UUID] = mapped_column()
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class AccessCode(IdMixin, Base):
    """A one-time code e-mailed to a registration's address (:mod:`tickets.codes`).

    Only the code's SHA-256 is kept: the database never holds a code that works.
    """

    __tablename__ = "access_codes"
    __table_args__ = (
        CheckConstraint("purpose IN ('confirm', 'sign_in')", name="purpose"),
        Index("ix_access_codes_registration", "registration_id"),
    )

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    registration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE")
    )
    purpose: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegistrationQuestion(IdMixin, TimestampMixin, Base):
    """A question of a festival's registration form (:mod:`tickets.questions`).

    A question removed is archived, not deleted, so the answers given to it stay
    readable; answers keep the label they were given under, too.
    """

    __tablename__ = "registration_questions"
    __table_args__ = (
        CheckConstraint("kind IN ('text', 'choice', 'choices', 'yes_no')", name="kind"),
        Index("ix_registration_questions_festival", "festival_id", "position"),
    )

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(300))
    help: Mapped[str | None] = mapped_column(String(1000))
    required: Mapped[bool] = mapped_column(default=False)
    choices: Mapped[list[str] | None] = mapped_column(JSON)
    # Shown on the door screen with the name when the ticket is scanned (an access need).
    at_door: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None] = mapped_column()


class RegistrationAnswer(Base):
    """A registration's answer to a question, with the question's label as it was."""

    __tablename__ = "registration_answers"

    registration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registration_questions.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(300))
    value: Mapped[Any] = mapped_column(JSON)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)


class FestivalMessage(IdMixin, Base):
    """A message the organiser sent to an audience (:mod:`tickets.messages`);
    its letters are outbox rows naming it."""

    __tablename__ = "festival_messages"
    __table_args__ = (Index("ix_festival_messages_festival", "festival_id", "created_at"),)

    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(60))
    recipients: Mapped[int] = mapped_column()
    sent_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReminderSent(Base):
    """A reminder written for a person and a session at one start time: written
    at most once (:mod:`tickets.reminders`); a session that moves gets a new one."""

    __tablename__ = "reminders_sent"

    registration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), primary_key=True
    )
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    starts_at: Mapped[datetime] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(IdMixin, TimestampMixin, Base):
    """A message to an attendee, written in the transaction that caused it.

    The sender leases a due message by moving ``next_attempt_at`` forward with a
    conditional update, so two workers never send it at the same time; a crash
    mid-send only delays it until the lease runs out (at-least-once delivery).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "sent_at", "next_attempt_at"),)

    festival_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("festivals.id", ondelete="CASCADE")
    )
    registration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL")
    )
    # The organiser's message this letter delivers (tickets.messages), if any.
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("festival_messages.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
