"""Statements of live sessions, and what each role may see of them."""

from __future__ import annotations

import functools
import uuid
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Executable,
    ScalarSelect,
    Select,
    Table,
    bindparam,
    delete,
    func,
    select,
    true,
    update,
)
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


# A vote storm runs these thousands of times a second: they are built once (per
# role and dialect) with bound parameters, not per vote. Parameters: vote_question,
# vote_session, vote_voter, and vote_at for the insert (names that are no column's,
# so that an INSERT or UPDATE never takes one for a value to set).
_QUESTIONS = cast(Table, Question.__table__)
_VOTES = cast(Table, QuestionVote.__table__)


def _visible_question(role: str) -> ScalarSelect[Any]:
    return (
        select(Question.id)
        .where(
            Question.id == bindparam("vote_question"),
            Question.session_id == bindparam("vote_session"),
            visible_questions(role),
        )
        .scalar_subquery()
    )


@functools.cache
def add_vote(role: str, dialect: str) -> Executable:
    """One vote row for a question ``role`` may see; no row if none or already there."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = select(
        Question.id,
        bindparam("vote_voter", type_=QuestionVote.voter_id.type),
        bindparam("vote_at", type_=QuestionVote.created_at.type),
    ).where(Question.id == _visible_question(role))
    # The table, not the mapped class: these run with parameters, which the ORM
    # would take for rows to bulk-insert or objects to update.
    stmt = insert(_VOTES).from_select(["question_id", "voter_id", "created_at"], rows)
    return stmt.on_conflict_do_nothing()


@functools.cache
def remove_vote(role: str) -> Executable:
    return delete(_VOTES).where(
        _VOTES.c.question_id == _visible_question(role),
        _VOTES.c.voter_id == bindparam("vote_voter"),
    )


@functools.cache
def votes_of_visible(role: str) -> Select[int]:
    return select(Question.votes).where(Question.id == _visible_question(role))


@functools.cache
def count_vote(delta: int) -> Executable:
    """Raise (or lower) a question's count and its version."""
    questions = _QUESTIONS
    return (
        update(questions)
        .where(questions.c.id == bindparam("vote_question"))
        .values(votes=questions.c.votes + delta, votes_version=questions.c.votes_version + 1)
        .returning(questions.c.votes, questions.c.votes_version)
    )
