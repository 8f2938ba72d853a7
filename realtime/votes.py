"""Question votes, group-committed: the votes of many voters in one unit of work.

A vote storm is mostly this, so a batch costs a handful of set-based
statements whatever its size: read (and lock) the questions voted on, take
back the votes whose voter's last word in the batch is "down", add those whose
last word is "up" (RETURNING says which were new, which is what makes it safe
against other processes writing the same rows), then move each question's
counter once by the batch's sum.

Each vote is answered as if the batch's votes had run one after the other in
the order they came: an up then a take-back by the same voter counts once and
then not at all, and each ack carries the count as of that vote. The counts
are offered to the hub's coalescer only after the commit, with the version
the database gave them. Not guaranteed: that a vote's ack count is the count
anyone else sees at that moment (other batches commit in between).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from festival import effects
from festival.db import utcnow
from festival.errors import FestivalError
from realtime.errors import QuestionNotFound
from realtime.live import LiveContext, fan_out_refusal, not_an_attendee
from realtime.queries import add_votes, count_votes, remove_votes, voted_questions

Key = tuple[uuid.UUID, uuid.UUID]  # (question, voter)


@dataclass(frozen=True, slots=True)
class Cast:
    """One vote as it came: who, on which question, up or taken back."""

    ctx: LiveContext
    question_id: uuid.UUID
    up: bool


@dataclass(slots=True)
class _Tally:
    session_id: uuid.UUID
    votes: int
    version: int
    delta: int = 0


async def vote_many(session: AsyncSession, casts: Sequence[Cast]) -> list[int | FestivalError]:
    """Run ``casts`` in order in the caller's unit of work; a count or an error for each.

    A vote that cannot be cast (not an attendee; a question unknown, in another
    session or not visible) gets its error and leaves the others alone.
    """
    out: list[int | FestivalError] = [0] * len(casts)
    for i, cast in enumerate(casts):
        if (refused := not_an_attendee(cast.ctx) or fan_out_refusal(cast.ctx)) is not None:
            out[i] = refused
    wanted = sorted(
        {c.question_id for c, o in zip(casts, out, strict=True) if not isinstance(o, FestivalError)}
    )
    tallies: dict[uuid.UUID, _Tally] = {}
    if wanted:
        rows = await session.execute(voted_questions(wanted))
        tallies = {qid: _Tally(sid, votes, version) for qid, sid, votes, version in rows}
    valid: list[int] = []
    last: dict[Key, bool] = {}
    for i, cast in enumerate(casts):
        if isinstance(out[i], FestivalError):
            continue
        tally = tallies.get(cast.question_id)
        if tally is None or tally.session_id != cast.ctx.session_id:
            out[i] = QuestionNotFound(f"No question {cast.question_id}", field="question_id")
            continue
        valid.append(i)
        last[(cast.question_id, cast.ctx.voter_id)] = cast.up
    voted = await _write(session, last)
    for i in valid:
        cast = casts[i]
        key = (cast.question_id, cast.ctx.voter_id)
        tally = tallies[cast.question_id]
        if cast.up != voted[key]:
            voted[key] = cast.up
            tally.delta += 1 if cast.up else -1
        out[i] = tally.votes + tally.delta
    await _count(session, casts, valid, tallies)
    return out


async def _write(session: AsyncSession, last: dict[Key, bool]) -> dict[Key, bool]:
    """Leave each (question, voter) as its last vote says; whether each was voted before."""
    ups = sorted(k for k, up in last.items() if up)
    downs = sorted(k for k, up in last.items() if not up)
    before: dict[Key, bool] = {}
    if downs:
        taken = {(q, v) for q, v in await session.execute(remove_votes(downs))}
        before |= {k: k in taken for k in downs}
    if ups:
        now = utcnow()
        params = [{"vote_question": q, "vote_voter": v, "vote_at": now} for q, v in ups]
        dialect = session.get_bind().dialect.name
        added = {(q, v) for q, v in await session.execute(add_votes(dialect), params)}
        before |= {k: k not in added for k in ups}
    return before


async def _count(
    session: AsyncSession,
    casts: Sequence[Cast],
    valid: list[int],
    tallies: dict[uuid.UUID, _Tally],
) -> None:
    """Move the counters that changed (in id order) and offer them after the commit."""
    moved = [(qid, t) for qid, t in sorted(tallies.items()) if t.delta]
    if not moved:
        return
    params = [{"vote_question": qid, "vote_delta": t.delta} for qid, t in moved]
    await session.execute(count_votes(), params)
    outbox = {casts[i].question_id: casts[i].ctx.out for i in valid}

    async def _offer() -> None:
        for qid, t in moved:
            outbox[qid].offer_votes(t.session_id, qid, t.version + 1, t.votes + t.delta)

    effects.defer(session, _offer)
