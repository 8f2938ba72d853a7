"""Statements of live sessions, and what each role may see of them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, func, literal, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.models import Ballot, BallotChoice, Poll, PollOption, Question, QuestionVote

PUBLIC_STATUSES = ("approved", "answered")


def visible_questions(role: str) -> ColumnElement[bool]:
    """Moderators see the whole queue; attendees and projectors what was let through."""
    if role == "moderator":
        return true()
    return Question.status.in_(PUBLIC_STATUSES)


def visible_polls(role: str) -> ColumnElement[bool]:
    """Drafts are the moderators' own business."""
    if role == "moderator":
        return true()
    return Poll.status != "draft"


def questions_of(session_id: uuid.UUID, role: str, sort: str = "votes") -> Select[Question]:
    stmt = select(Question).where(Question.session_id == session_id, visible_questions(role))
    if sort == "votes":
        return stmt.order_by(Question.votes.desc(), Question.created_at, Question.id)
    return stmt.order_by(Question.created_at, Question.id)


def polls_of(session_id: uuid.UUID, role: str) -> Select[Poll]:
    return (
        select(Poll)
        .where(Poll.session_id == session_id, visible_polls(role))
        .order_by(Poll.created_at, Poll.id)
    )


def options_of(poll_ids: list[uuid.UUID]) -> Select[PollOption]:
    return (
        select(PollOption)
        .where(PollOption.poll_id.in_(poll_ids))
        .order_by(PollOption.poll_id, PollOption.position)
    )


def option_counts(poll_id: uuid.UUID) -> Select[uuid.UUID, int]:
    return (
        select(BallotChoice.option_id, func.count())
        .where(BallotChoice.poll_id == poll_id)
        .group_by(BallotChoice.option_id)
    )


def rating_counts(poll_id: uuid.UUID) -> Select[int | None, int]:
    return (
        select(Ballot.rating, func.count())
        .where(Ballot.poll_id == poll_id, Ballot.rating.is_not(None))
        .group_by(Ballot.rating)
    )


def ballot_total(poll_id: uuid.UUID) -> Select[int]:
    return select(func.count()).select_from(Ballot).where(Ballot.poll_id == poll_id)


def ballot_texts(poll_id: uuid.UUID) -> Select[str | None]:
    return select(Ballot.text).where(Ballot.poll_id == poll_id, Ballot.text.is_not(None))


def option_counts_of(poll_ids: list[uuid.UUID]) -> Select[uuid.UUID, uuid.UUID, int]:
    return (
        select(BallotChoice.poll_id, BallotChoice.option_id, func.count())
        .where(BallotChoice.poll_id.in_(poll_ids))
        .group_by(BallotChoice.poll_id, BallotChoice.option_id)
    )


def rating_counts_of(poll_ids: list[uuid.UUID]) -> Select[uuid.UUID, int | None, int]:
    return (
        select(Ballot.poll_id, Ballot.rating, func.count())
        .where(Ballot.poll_id.in_(poll_ids), Ballot.rating.is_not(None))
        .group_by(Ballot.poll_id, Ballot.rating)
    )


def totals_of(poll_ids: list[uuid.UUID]) -> Select[uuid.UUID, int]:
    return (
        select(Ballot.poll_id, func.count())
        .where(Ballot.poll_id.in_(poll_ids))
        .group_by(Ballot.poll_id)
    )


def texts_of(poll_ids: list[uuid.UUID]) -> Select[uuid.UUID, str | None]:
    return select(Ballot.poll_id, Ballot.text).where(
        Ballot.poll_id.in_(poll_ids), Ballot.text.is_not(None)
    )


async def insert_ignoring_duplicates(
    session: AsyncSession, model: type[Any], values: dict[str, Any]
) -> bool:
    """INSERT unless a unique key already holds the row; True if a row was written."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await session.execute(insert(model).values(**values).on_conflict_do_nothing())
    return bool(getattr(result, "rowcount", 0) == 1)


async def insert_vote(
    session: AsyncSession, question: ScalarSelect[Any], voter_id: uuid.UUID, at: datetime
) -> bool:
    """One vote row for a question that ``question`` finds; False if none or already there."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = select(
        Question.id,
        literal(voter_id, QuestionVote.voter_id.type),
        literal(at, QuestionVote.created_at.type),
    ).where(Question.id == question)
    stmt = insert(QuestionVote).from_select(["question_id", "voter_id", "created_at"], rows)
    result = await session.execute(stmt.on_conflict_do_nothing())
    return bool(getattr(result, "rowcount", 0) == 1)
