"""From a checked client frame to the use case it asks for, and the snapshot.

One frame is one unit of work, opened by the caller; what this returns is the
``data`` of the ack.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from realtime import polls, qa
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
        return {"question_id": str(data.question_id), "votes": count, "up": data.up}
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
