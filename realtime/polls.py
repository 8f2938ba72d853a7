"""Poll use cases: create, open, close, vote, results and listing.

A ballot raises the poll's ``version`` with a conditional UPDATE (``status =
'open'``), which also serialises ballots of one poll, so the results read in
the same transaction pair exactly with that version. They are offered to the
hub's coalescer after the commit; the newest version always wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from festival import effects
from festival.db import utcnow
from festival.errors import Conflict, Forbidden, Invalid
from realtime.errors import PollNotFound, PollNotOpen
from realtime.live import LiveContext, announce, require_fan_out
from realtime.models import Ballot, BallotChoice, Poll, PollOption
from realtime.protocol import Event, PollCreate
from realtime.qa import clean_text
from realtime.queries import (
    ballot_texts,
    ballot_total,
    option_counts,
    option_counts_of,
    options_of,
    polls_of,
    rating_counts,
    rating_counts_of,
    texts_of,
    totals_of,
)
from realtime.views import (
    option_results,
    poll_view,
    rating_results,
    results_event,
    results_shown_to,
    text_results,
)

DEFAULT_SCALE = 5


def _require_moderator(ctx: LiveContext) -> None:
    if not ctx.is_moderator:
        raise Forbidden("Only moderators manage polls")


def _check_shape(data: PollCreate) -> None:
    options = data.options or []
    if data.kind in ("single", "multiple"):
        if len(options) < 2:
            raise Invalid("A choice poll needs at least two options", field="options")
        if data.max_choices is not None and data.max_choices > len(options):
            raise Invalid("max_choices is more than the options", field="max_choices")
        if data.kind == "single" and data.max_choices not in (None, 1):
            raise Invalid("A single-choice poll has max_choices 1", field="max_choices")
    elif options:
        raise Invalid(f"A {data.kind} poll has no options", field="options")
    if data.scale is not None and data.kind != "rating":
        raise Invalid("Only rating polls have a scale", field="scale")


def _max_choices(data: PollCreate) -> int | None:
    if data.kind == "multiple":
        return data.max_choices or len(data.options or [])
    return 1 if data.kind == "single" else None


async def create(
    session: AsyncSession, ctx: LiveContext, data: PollCreate
) -> tuple[Poll, list[PollOption]]:
    """A draft poll; moderators hear of it at once, attendees when it opens."""
    _require_moderator(ctx)
    _check_shape(data)
    poll = Poll(
        id=uuid.uuid4(),
        session_id=ctx.session_id,
        question=clean_text(data.question, "question"),
        kind=data.kind,
        max_choices=_max_choices(data),
        scale=(data.scale or DEFAULT_SCALE) if data.kind == "rating" else None,
        hide_results=data.hide_results,
        status="draft",
        version=0,
    )
    options = [
        PollOption(id=uuid.uuid4(), poll_id=poll.id, position=i, text=clean_text(t, "options", 200))
        for i, t in enumerate(data.options or [])
    ]
    session.add(poll)
    await session.flush()
    session.add_all(options)
    await session.flush()
    announce(session, ctx, Event("poll.created", poll_view(poll, options), "moderators"))
    return poll, options


async def _poll(session: AsyncSession, ctx: LiveContext, poll_id: uuid.UUID) -> Poll:
    poll = await session.scalar(
        select(Poll).where(Poll.id == poll_id, Poll.session_id == ctx.session_id).with_for_update()
    )
    if poll is None or (poll.status == "draft" and not ctx.is_moderator):
        raise PollNotFound(f"No poll {poll_id}", field="poll_id")
    return poll


async def _options(session: AsyncSession, poll_id: uuid.UUID) -> list[PollOption]:
    return list((await session.scalars(options_of([poll_id]))).all())


async def open_poll(
    session: AsyncSession, ctx: LiveContext, poll_id: uuid.UUID
) -> tuple[Poll, list[PollOption]]:
    _require_moderator(ctx)
    poll = await _poll(session, ctx, poll_id)
    if poll.status != "draft":
        raise Conflict(f"The poll is {poll.status}; only a draft opens", field="poll_id")
    poll.status, poll.opened_at = "open", utcnow()
    await session.flush()
    options = await _options(session, poll.id)
    announce(session, ctx, Event("poll.opened", poll_view(poll, options)))
    return poll, options


async def close_poll(
    session: AsyncSession, ctx: LiveContext, poll_id: uuid.UUID
) -> tuple[Poll, list[PollOption]]:
    """Close the poll; final results go to everyone, hidden ones included."""
    _require_moderator(ctx)
    poll = await _poll(session, ctx, poll_id)
    if poll.status != "open":
        raise Conflict(f"The poll is {poll.status}; only an open poll closes", field="poll_id")
    poll.status, poll.closed_at = "closed", utcnow()
    await session.flush()
    options = await _options(session, poll.id)
    final = await results(session, poll, options)
    announce(session, ctx, Event("poll.closed", poll_view(poll, options)))
    announce(session, ctx, Event("poll.results", final))
    return poll, options


async def results(
    session: AsyncSession, poll: Poll, options: Sequence[PollOption] | None = None
) -> dict[str, Any]:
    """The poll's results as the wire shows them, read now."""
    if poll.kind == "rating":
        rows = (await session.execute(rating_counts(poll.id))).all()
        return rating_results(poll, {int(r): int(n) for r, n in rows if r is not None})
    if poll.kind == "text":
        return text_results(poll, (await session.scalars(ballot_texts(poll.id))).all())
    if options is None:
        options = await _options(session, poll.id)
    counts = {o: int(n) for o, n in (await session.execute(option_counts(poll.id))).all()}
    total = int(await session.scalar(ballot_total(poll.id)) or 0)
    return option_results(poll, options, counts, total)


async def vote(
    session: AsyncSession,
    ctx: LiveContext,
    poll_id: uuid.UUID,
    *,
    option_ids: list[uuid.UUID] | None = None,
    rating: int | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    """Cast or replace this attendee's ballot while the poll is open."""
    if ctx.role != "attendee":
        raise Forbidden("Only attendees vote")
    require_fan_out(ctx)
    version = await session.scalar(
        update(Poll)
        .where(Poll.id == poll_id, Poll.session_id == ctx.session_id, Poll.status == "open")
        .values(version=Poll.version + 1)
        .returning(Poll.version)
    )
    if version is None:
        await _poll(session, ctx, poll_id)
        raise PollNotOpen("The poll is not open for votes", field="poll_id")
    poll = await _poll(session, ctx, poll_id)
    options = await _options(session, poll.id)
    choice = _ballot_fields(poll, options, option_ids, rating, text)
    await _write_ballot(session, poll, ctx.voter_id, choice)
    now = await results(session, poll, options)
    event = results_event(poll, now)

    async def _offer() -> None:
        ctx.out.offer_results(ctx.session_id, poll.id, int(version), event)

    effects.defer(session, _offer)
    return {"poll_id": str(poll.id), "accepted": True}


def _ballot_fields(
    poll: Poll,
    options: Sequence[PollOption],
    option_ids: list[uuid.UUID] | None,
    rating: int | None,
    text: str | None,
) -> dict[str, Any]:
    if poll.kind in ("single", "multiple"):
        if rating is not None or text is not None or not option_ids:
            raise Invalid("Choose with option_ids", field="option_ids")
        chosen = list(dict.fromkeys(option_ids))
        if len(chosen) > (poll.max_choices or 1):
            raise Invalid(f"Choose at most {poll.max_choices}", field="option_ids")
        known = {o.id for o in options}
        if any(c not in known for c in chosen):
            raise Invalid("Not an option of this poll", field="option_ids")
        return {"options": chosen}
    if poll.kind == "rating":
        scale = poll.scale or DEFAULT_SCALE
        if option_ids or text is not None or rating is None or not 1 <= rating <= scale:
            raise Invalid(f"Rate from 1 to {scale}", field="rating")
        return {"rating": rating}
    if option_ids or rating is not None or text is None:
        raise Invalid("Answer with text", field="text")
    return {"text": clean_text(text, "text", 200)}


async def _write_ballot(
    session: AsyncSession, poll: Poll, voter_id: uuid.UUID, choice: dict[str, Any]
) -> None:
    ballot = await session.scalar(
        select(Ballot).where(Ballot.poll_id == poll.id, Ballot.voter_id == voter_id)
    )
    if ballot is None:
        ballot = Ballot(id=uuid.uuid4(), poll_id=poll.id, voter_id=voter_id)
        session.add(ballot)
    else:
        await session.execute(delete(BallotChoice).where(BallotChoice.ballot_id == ballot.id))
    ballot.rating = choice.get("rating")
    ballot.text = choice.get("text")
    ballot.updated_at = utcnow()
    await session.flush()
    session.add_all(
        BallotChoice(ballot_id=ballot.id, option_id=o, poll_id=poll.id)
        for o in choice.get("options", [])
    )
    await session.flush()


async def list_polls(session: AsyncSession, ctx: LiveContext) -> list[dict[str, Any]]:
    """Polls this role may see, each with its options and, where shown, its results."""
    polls = (await session.scalars(polls_of(ctx.session_id, ctx.role))).all()
    if not polls:
        return []
    options: dict[uuid.UUID, list[PollOption]] = {p.id: [] for p in polls}
    for option in (await session.scalars(options_of([p.id for p in polls]))).all():
        options[option.poll_id].append(option)
    shown = [p for p in polls if results_shown_to(p, ctx.role) and p.status != "draft"]
    tallies = await _tallies(session, shown)
    out = []
    for poll in polls:
        view = poll_view(poll, options[poll.id])
        if poll in shown:
            view["results"] = _results_of(poll, options[poll.id], tallies)
        out.append(view)
    return out


async def _tallies(session: AsyncSession, polls: Sequence[Poll]) -> dict[str, Any]:
    """Every count the listed polls need, in four queries whatever their number."""
    ids = [p.id for p in polls]
    texts = [p.id for p in polls if p.kind == "text"]
    choices: dict[uuid.UUID, dict[Any, int]] = {i: {} for i in ids}
    ratings: dict[uuid.UUID, dict[int, int]] = {i: {} for i in ids}
    words: dict[uuid.UUID, list[str | None]] = {i: [] for i in texts}
    if ids:
        for poll_id, option_id, n in (await session.execute(option_counts_of(ids))).all():
            choices[poll_id][option_id] = int(n)
        for poll_id, rating, n in (await session.execute(rating_counts_of(ids))).all():
            if rating is not None:
                ratings[poll_id][rating] = int(n)
    totals = {p: int(n) for p, n in (await session.execute(totals_of(ids))).all()} if ids else {}
    if texts:
        for poll_id, text in (await session.execute(texts_of(texts))).all():
            words[poll_id].append(text)
    return {"choices": choices, "ratings": ratings, "totals": totals, "words": words}


def _results_of(
    poll: Poll, options: Sequence[PollOption], tallies: dict[str, Any]
) -> dict[str, Any]:
    if poll.kind == "rating":
        return rating_results(poll, tallies["ratings"][poll.id])
    if poll.kind == "text":
        return text_results(poll, tallies["words"][poll.id])
    total = tallies["totals"].get(poll.id, 0)
    return option_results(poll, options, tallies["choices"][poll.id], total)


async def poll_results(
    session: AsyncSession, ctx: LiveContext, poll_id: uuid.UUID
) -> dict[str, Any]:
    poll = await _poll(session, ctx, poll_id)
    if not results_shown_to(poll, ctx.role):
        raise Forbidden("Results of this poll are hidden until it closes")
    return await results(session, poll)
