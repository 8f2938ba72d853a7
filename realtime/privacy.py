"""The live sessions' part of an attendee's data (:mod:`festival.privacy`).

Exported: the questions they asked (named ones by ``author_id``; anonymous ones
only when they ask with their own token, by its seal: :mod:`realtime.seals`),
their upvotes and their poll ballots. Erased or purged: questions lose name,
author and seal (a named question becomes anonymous, its text stays, as an
anonymous one's does), and votes and ballots get a random voter each, so every
count and poll result stays what it was and nothing links them to the person
or to one another.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from festival import privacy
from realtime.models import Ballot, BallotChoice, Poll, PollOption, Question, QuestionVote
from realtime.seals import seal
from schedule.models import Session


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _random_uuid(session: AsyncSession) -> Any:
    """A new random id per row, in SQL (one statement for many rows)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.gen_random_uuid()
    return func.lower(func.hex(func.randomblob(16)))  # how a Uuid is stored on SQLite


async def _sealed(session: AsyncSession, subject: privacy.Subject) -> list[Question]:
    """The festival's anonymous questions whose seal the subject's token opens."""
    if subject.seal_key is None:
        return []
    candidates = await session.scalars(
        select(Question)
        .join(Session, Session.id == Question.session_id)
        .where(Session.festival_id == subject.festival_id, Question.author_seal.is_not(None))
    )
    return [q for q in candidates.all() if q.author_seal == seal(subject.seal_key, q.id)]


async def _export(session: AsyncSession, subject: privacy.Subject) -> dict[str, Any]:
    named = (
        await session.scalars(select(Question).where(Question.author_id == subject.registration_id))
    ).all()
    asked = sorted([*named, *await _sealed(session, subject)], key=lambda q: q.created_at)
    # Which questions they upvoted, not their texts: those are someone else's.
    upvotes = await session.scalars(
        select(QuestionVote)
        .where(QuestionVote.voter_id == subject.registration_id)
        .order_by(QuestionVote.created_at)
    )
    ballots = await session.execute(
        select(Ballot, Poll.question)
        .join(Poll, Poll.id == Ballot.poll_id)
        .where(Ballot.voter_id == subject.registration_id)
        .order_by(Ballot.updated_at)
    )
    ballot_rows = ballots.all()
    chosen: dict[uuid.UUID, list[str]] = {}
    if ballot_rows:
        choices = await session.execute(
            select(BallotChoice.ballot_id, PollOption.text)
            .join(PollOption, PollOption.id == BallotChoice.option_id)
            .where(BallotChoice.ballot_id.in_([b.id for b, _ in ballot_rows]))
            .order_by(PollOption.position)
        )
        for ballot_id, text in choices.all():
            chosen.setdefault(ballot_id, []).append(text)
    return {
        "questions": [
            {
                "id": str(q.id),
                "session_id": str(q.session_id),
                "text": q.text,
                "anonymous": q.anonymous,
                "status": q.status,
                "votes": q.votes,
                "asked_at": _when(q.created_at),
            }
            for q in asked
        ],
        "question_votes": [
            {"question_id": str(v.question_id), "at": _when(v.created_at)} for v in upvotes.all()
        ],
        "poll_votes": [
            {
                "poll_id": str(b.poll_id),
                "poll": question,
                "options": chosen.get(b.id, []),
                "rating": b.rating,
                "text": b.text,
                "at": _when(b.updated_at),
            }
            for b, question in ballot_rows
        ],
    }


_UNLINKED = {"author_id": None, "author_name": None, "author_seal": None, "anonymous": True}


async def _erase(session: AsyncSession, subject: privacy.Subject) -> None:
    sealed = [q.id for q in await _sealed(session, subject)]
    await _unlink(session, Question.author_id == subject.registration_id)
    if sealed:
        await _unlink(session, Question.id.in_(sealed))
    await _shuffle_voters(
        session,
        QuestionVote.voter_id == subject.registration_id,
        Ballot.voter_id == subject.registration_id,
    )


async def _purge(session: AsyncSession, festival_id: uuid.UUID) -> None:
    sessions = select(Session.id).where(Session.festival_id == festival_id).scalar_subquery()
    questions = select(Question.id).where(Question.session_id.in_(sessions)).scalar_subquery()
    polls = select(Poll.id).where(Poll.session_id.in_(sessions)).scalar_subquery()
    await _unlink(
        session,
        Question.session_id.in_(sessions),
        (Question.author_id.is_not(None)) | (Question.author_seal.is_not(None)),
    )
    await _shuffle_voters(
        session, QuestionVote.question_id.in_(questions), Ballot.poll_id.in_(polls)
    )


async def _unlink(session: AsyncSession, *where: ColumnElement[bool]) -> None:
    await session.execute(
        update(Question)
        .where(*where)
        .values(**_UNLINKED)
        .execution_options(synchronize_session=False)
    )


async def _shuffle_voters(
    session: AsyncSession, votes: ColumnElement[bool], ballots: ColumnElement[bool]
) -> None:
    """A random voter for each of these votes and ballots: counts stay, links go."""
    fresh = _random_uuid(session)
    for model, where in ((QuestionVote, votes), (Ballot, ballots)):
        await session.execute(
            update(model)
            .where(where)
            .values(voter_id=fresh)
            .execution_options(synchronize_session=False)
        )


def install() -> None:
    """Take part in exports, erasures and purges (idempotent)."""
    privacy.register(privacy.Section("live", _export, _erase, _purge))
