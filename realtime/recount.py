"""The counts of a live session as the database holds them now.

After a channel's numbering restarts, the broker may have forgotten which
version of a count it last let through (a Redis that lost or rolled back its
keys), and a node may still hold an older count it could not publish: that one
would then pass, after the reset snapshot, and leave screens behind. So each
node offers these current counts again, at their database versions
(:meth:`realtime.runtime.LiveRuntime.recount`): the newest version wins, as always.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.models import Poll, Question
from realtime.polls import results
from realtime.protocol import Event
from realtime.views import results_event


async def current(
    session: AsyncSession, session_id: uuid.UUID
) -> tuple[list[tuple[uuid.UUID, int, int]], list[tuple[uuid.UUID, int, Event]]]:
    """Each question's (id, version, votes), and each shown poll's (id, version, results)."""
    counts = (
        await session.execute(
            select(Question.id, Question.votes_version, Question.votes).where(
                Question.session_id == session_id
            )
        )
    ).all()
    polls = (
        await session.scalars(
            select(Poll).where(Poll.session_id == session_id, Poll.status != "draft")
        )
    ).all()
    tallies = [(p.id, p.version, results_event(p, await results(session, p))) for p in polls]
    return [(q, int(v), int(n)) for q, v, n in counts], tallies
