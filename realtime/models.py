"""Tables of live sessions: channel settings, questions, votes, moderation, polls.

Identities: ``author_id`` / ``voter_id`` are the attendee's registration id (the
token's ``subject_id``), never shown to anyone. An anonymous question stores no
display name and no ``author_id`` at all, so neither a route nor a database dump
can link it to its author.
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
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from festival.db import Base, IdMixin, TimestampMixin, utcnow

QUESTION_STATUSES = ("pending", "approved", "answered", "dismissed")
POLL_KINDS = ("single", "multiple", "rating", "text")
POLL_STATUSES = ("draft", "open", "closed")


class LiveChannel(TimestampMixin, Base):
    """Live settings of one session (made on first use)."""

    __tablename__ = "live_channels"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    festival_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("festivals.id", ondelete="CASCADE"))
    pre_moderation: Mapped[bool] = mapped_column(Boolean, default=True)


class Question(IdMixin, TimestampMixin, Base):
    """An attendee's question. ``votes`` is kept by conditional updates beside the
    vote rows; ``votes_version`` rises with every change so the newest count wins."""

    __tablename__ = "live_questions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'answered', 'dismissed')", name="status"
        ),
        CheckConstraint("votes >= 0", name="votes"),
        Index("ix_live_questions_session_created", "session_id", "created_at"),
        # One highlighted question per session, whatever races.
        Index(
            "uq_live_questions_one_highlight",
            "session_id",
            unique=True,
            sqlite_where=text("highlighted"),
            postgresql_where=text("highlighted"),
        ),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID | None] = mapped_column()  # None when anonymous
    author_name: Mapped[str | None] = mapped_column(String(200))
    # An anonymous question's seal: an HMAC of its id keyed by a digest of the
    # asker's token, which the server never stores (realtime.seals). Only that
    # token finds it again (the asker's own export); a dump cannot.
    author_seal: Mapped[str | None] = mapped_column(String(64))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))
    highlighted: Mapped[bool] = mapped_column(Boolean, default=False)
    votes: Mapped[int] = mapped_column(default=0)
    votes_version: Mapped[int] = mapped_column(default=0)
    revision: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QuestionVote(Base):
    """One upvote per attendee per question: the primary key says so."""

    __tablename__ = "live_question_votes"

    question_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_questions.id", ondelete="CASCADE"), primary_key=True
    )
    voter_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModerationAction(IdMixin, Base):
    """The audit trail: who did what to which question, and the state before and after."""

    __tablename__ = "live_moderation_actions"
    __table_args__ = (Index("ix_live_moderation_actions_question", "question_id", "at"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    question_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_questions.id", ondelete="CASCADE")
    )
    action: Mapped[str] = mapped_column(String(20))
    actor_token_id: Mapped[uuid.UUID] = mapped_column()
    actor_label: Mapped[str | None] = mapped_column(String(200))
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Poll(IdMixin, TimestampMixin, Base):
    """A poll; ``version`` rises with every ballot change, pairing results with their age."""

    __tablename__ = "live_polls"
    __table_args__ = (
        CheckConstraint("kind IN ('single', 'multiple', 'rating', 'text')", name="kind"),
        CheckConstraint("status IN ('draft', 'open', 'closed')", name="status"),
        Index("ix_live_polls_session_created", "session_id", "created_at"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(10))
    max_choices: Mapped[int | None] = mapped_column()
    scale: Mapped[int | None] = mapped_column()
    hide_results: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(8), default="draft")
    version: Mapped[int] = mapped_column(default=0)
    opened_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()


class PollOption(IdMixin, Base):
    __tablename__ = "live_poll_options"
    __table_args__ = (UniqueConstraint("poll_id", "position"),)

    poll_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("live_polls.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    text: Mapped[str] = mapped_column(String(200))


class Ballot(IdMixin, Base):
    """One ballot per attendee per poll (unique), replaced while the poll is open."""

    __tablename__ = "live_poll_ballots"
    __table_args__ = (UniqueConstraint("poll_id", "voter_id"),)

    poll_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("live_polls.id", ondelete="CASCADE"))
    voter_id: Mapped[uuid.UUID] = mapped_column()
    rating: Mapped[int | None] = mapped_column()
    text: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BallotChoice(Base):
    __tablename__ = "live_poll_ballot_choices"
    __table_args__ = (Index("ix_live_poll_ballot_choices_poll_option", "poll_id", "option_id"),)

    ballot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_poll_ballots.id", ondelete="CASCADE"), primary_key=True
    )
    option_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("live_poll_options.id", ondelete="CASCADE"), primary_key=True
    )
    poll_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("live_polls.id", ondelete="CASCADE"))
