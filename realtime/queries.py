"""Statements of live sessions, and what each role may see of them."""

from __future__ import annotations

import functools
import uuid
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    Table,
    bindparam,
    delete,
    func,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.models import (
    Ballot,
    BallotChoice,
    ModerationAction,
    Poll,
    PollOption,
    Question,
    QuestionVote,
)

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


# A vote storm runs these for every batch of votes: they are built once (per
# dialect) and run with bound parameters or as executemany, not per vote. The
# table, not the mapped class: these run with parameters, which the ORM would
# take for rows to bulk-insert or objects to update. Parameter names are no
# column's, so that an INSERT or UPDATE never takes one for a value to set.
_QUESTIONS = cast(Table, Question.__table__)
_VOTES = cast(Table, QuestionVote.__table__)
_MODERATIONS = cast(Table, ModerationAction.__table__)


# Moderation: Core statements built once, for the approve everyone waits on
# (the ORM's load, unit of work and flush cost more than the statements).


def _locked_questions(*where: ColumnElement[bool]) -> Executable:
    return select(_QUESTIONS).where(*where).with_for_update()


@functools.cache
def question_to_moderate() -> Executable:
    """The question ``m_question`` of session ``m_session``, locked for its moderation."""
    q = _QUESTIONS
    return _locked_questions(
        q.c.id == bindparam("m_question"), q.c.session_id == bindparam("m_session")
    )


@functools.cache
def other_highlighted() -> Executable:
    """The questions of ``m_session`` highlighted now, but ``m_question``; locked."""
    q = _QUESTIONS
    return _locked_questions(
        q.c.session_id == bindparam("m_session"),
        q.c.highlighted.is_(True),
        q.c.id != bindparam("m_question"),
    )


@functools.cache
def save_moderated() -> Executable:
    """Write a moderated question's text, status, highlight and revision."""
    q = _QUESTIONS
    return (
        update(q)
        .where(q.c.id == bindparam("m_question"))
        .values(
            text=bindparam("m_text"),
            status=bindparam("m_status"),
            highlighted=bindparam("m_highlighted"),
            revision=bindparam("m_revision"),
            updated_at=bindparam("m_at", type_=Question.updated_at.type),
        )
    )


@functools.cache
def record_moderation() -> Executable:
    """One row of the audit trail (its columns as parameters)."""
    return _MODERATIONS.insert()


def voted_questions(question_ids: list[uuid.UUID]) -> Select[uuid.UUID, uuid.UUID, int, int]:
    """The questions of ``question_ids`` an attendee may vote on, with count and version.

    In id order and locked against other writers' counter updates (PostgreSQL;
    SQLite's writer holds the whole database already): a batch takes its rows
    in one order, so two batches sharing questions queue instead of deadlocking,
    and a question is not hidden between the check and the vote.
    """
    return (
        select(Question.id, Question.session_id, Question.votes, Question.votes_version)
        .where(Question.id.in_(question_ids), visible_questions("attendee"))
        .order_by(Question.id)
        .with_for_update(key_share=True)
    )


@functools.cache
def add_votes(dialect: str) -> Executable:
    """Vote rows (executemany); RETURNING names those that were not there yet."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(_VOTES).values(
        question_id=bindparam("vote_question", type_=QuestionVote.question_id.type),
        voter_id=bindparam("vote_voter", type_=QuestionVote.voter_id.type),
        created_at=bindparam("vote_at", type_=QuestionVote.created_at.type),
    )
    return stmt.on_conflict_do_nothing().returning(_VOTES.c.question_id, _VOTES.c.voter_id)


def remove_votes(keys: list[tuple[uuid.UUID, uuid.UUID]]) -> Executable:
    """Take back (question, voter) votes; RETURNING names those that were there."""
    pair = tuple_(_VOTES.c.question_id, _VOTES.c.voter_id)
    return delete(_VOTES).where(pair.in_(keys)).returning(_VOTES.c.question_id, _VOTES.c.voter_id)


@functools.cache
def count_votes() -> Executable:
    """Move a question's count by ``vote_delta`` and raise its version (executemany)."""
    questions = _QUESTIONS
    return (
        update(questions)
        .where(questions.c.id == bindparam("vote_question"))
        .values(
            votes=questions.c.votes + bindparam("vote_delta", type_=Question.votes.type),
            votes_version=questions.c.votes_version + 1,
        )
    )
