"""Moderation as a use case: what it writes, what it audits, and highlights racing."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from festival.db import make_sessionmaker, unit_of_work
from festival.errors import Conflict
from realtime import qa
from realtime.hub import Hub
from realtime.live import LiveContext
from realtime.models import ModerationAction, Question
from tests.conftest import Backend
from tests.factories.realtime import Live, live_session


async def _moderate(live: Live, ctx: LiveContext, qid: uuid.UUID, action: str) -> Question:
    async with unit_of_work(make_sessionmaker(live.engine)) as session:
        return await qa.moderate(session, ctx, qid, action)


async def test_an_approve_writes_the_question_and_its_audit_line(
    backend: Backend, hub: Hub
) -> None:
    live = await live_session(backend.engine)
    mod = await live.enter(hub, await live.moderator())
    ada = await live.enter(hub, await live.attendee("Ada"))
    async with unit_of_work(make_sessionmaker(live.engine)) as session:
        asked = await qa.ask(session, ada, "Held?", False)
    assert asked.status == "pending"

    approved = await _moderate(live, mod, asked.id, "approve")
    assert (approved.status, approved.revision, approved.text) == ("approved", 1, "Held?")

    async with live.engine.connect() as connection:
        stored = (await connection.execute(select(Question).where(Question.id == asked.id))).one()
        (line,) = (await connection.execute(select(ModerationAction))).all()
    assert (stored.status, stored.revision, stored.highlighted) == ("approved", 1, False)
    assert stored.updated_at == approved.updated_at == line.at
    assert (line.question_id, line.action, line.actor_token_id) == (
        asked.id,
        "approve",
        mod.principal.token_id,
    )
    assert line.before == {"status": "pending", "highlighted": False, "text": "Held?"}
    assert line.after == {"status": "approved", "highlighted": False, "text": "Held?"}


async def test_highlights_at_the_same_moment_leave_one_question_highlighted(
    backend: Backend, hub: Hub
) -> None:
    """Six moderators highlight six questions at once: each is highlighted or told of the
    conflict (never an internal error), and one question stays highlighted."""
    live = await live_session(backend.engine)
    mods = [await live.enter(hub, await live.moderator()) for _ in range(6)]
    ada = await live.enter(hub, await live.attendee("Ada"))
    async with unit_of_work(make_sessionmaker(live.engine)) as session:
        asked = [(await qa.ask(session, ada, f"Q{i}?", False)).id for i in range(6)]

    outcomes = await asyncio.gather(
        *(_moderate(live, mod, qid, "highlight") for mod, qid in zip(mods, asked, strict=True)),
        return_exceptions=True,
    )
    won = [o for o in outcomes if isinstance(o, Question)]
    assert all(isinstance(o, Question | Conflict) for o in outcomes), outcomes
    assert won
    assert all(q.highlighted for q in won)

    async with live.engine.connect() as connection:
        lit = (
            await connection.execute(select(Question.id).where(Question.highlighted.is_(True)))
        ).scalars()
        trail = (await connection.execute(select(ModerationAction.action))).scalars().all()
    assert len(list(lit)) == 1
    assert trail.count("highlight") == len(won)
    assert trail.count("unhighlight") == len(won) - 1
