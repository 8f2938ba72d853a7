"""From a checked client frame to the use case it asks for, and the snapshot.

One frame is one unit of work, opened by the caller, except question votes,
which the caller may run many at a time (:func:`run_votes`); what these return
is the ``data`` of the ack.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from festival.errors import FestivalError
from realtime import polls, qa, votes
from realtime.access import pre_moderation
from realtime.live import LiveContext
from realtime.protocol import (
    Command,
    PollCreate,
    PollRef,
    PollVote,
    QuestionAsk,
    QuestionModerate,
    QuestionVote,
)
from realtime.views import poll_view, question_view


async def run(session: AsyncSession, ctx: LiveContext, command: Command) -> dict[str, Any]:
    """Run one client command; domain errors propagate for the caller to render."""
    data = command.data
    if isinstance(data, QuestionAsk):
        question = await qa.ask(session, ctx, data.text, data.anonymous)
        return {"question": question_view(question)}
    if isinstance(data, QuestionVote):
        count = await qa.vote(session, ctx, data.question_id, data.up)
        return _vote_ack(data.question_id, count, data.up)
    if isinstance(data, QuestionModerate):
        question = await qa.moderate(session, ctx, data.question_id, data.action, data.text)
        return {"question": question_view(question)}
    if isinstance(data, PollCreate):
        poll, options = await polls.create(session, ctx, data)
        return {"poll": poll_view(poll, options)}
    if isinstance(data, PollRef):
        change = polls.open_poll if command.type == "poll.open" else polls.close_poll
        poll, options = await change(session, ctx, data.poll_id)
        return {"poll": poll_view(poll, options)}
    if isinstance(data, PollVote):
        return await polls.vote(
            session,
            ctx,
            data.poll_id,
            option_ids=data.option_ids,
            rating=data.rating,
            text=data.text,
        )
    raise AssertionError(f"no use case for {command.type}")


async def run_votes(
    session: AsyncSession, commands: Sequence[tuple[LiveContext, Command]]
) -> list[dict[str, Any] | FestivalError]:
    """Run ``question.vote`` commands as one batch, in order: an ack's data or an error each."""
    casts = [votes.Cast(ctx, c.data.question_id, c.data.up) for ctx, c in commands]
    outcomes = await votes.vote_many(session, casts)
    return [
        o if isinstance(o, FestivalError) else _vote_ack(cast.question_id, o, cast.up)
        for cast, o in zip(casts, outcomes, strict=True)
    ]


def _vote_ack(question_id: uuid.UUID, count: int, up: bool) -> dict[str, Any]:
    return {"question_id": str(question_id), "votes": count, "up": up}


async def snapshot(session: AsyncSession, ctx: LiveContext, seq: int) -> dict[str, Any]:
    """What this role may see of the session now, as of event number ``seq``."""
    questions = await qa.list_questions(session, ctx, "votes")
    return {
        "seq": seq,
        "role": ctx.role,
        "pre_moderation": await pre_moderation(session, ctx),
        "questions": [question_view(q) for q in questions],
        "polls": await polls.list_polls(session, ctx),
    }
