"""Question votes run many at a time: in order, each on its own, counted exactly."""

from __future__ import annotations

import asyncio
import json
import math
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from festival.db import make_sessionmaker, unit_of_work
from festival.errors import FestivalError, Forbidden
from realtime import qa
from realtime.errors import QuestionNotFound
from realtime.hub import Hub
from realtime.live import LiveContext
from realtime.models import Question, QuestionVote
from realtime.protocol import Command
from realtime.protocol import QuestionVote as VoteFrame
from realtime.runtime import LiveRuntime
from realtime.votes import Cast, vote_many
from tests.conftest import POSTGRES_ONLY, Backend, LiveServer
from tests.factories.realtime import Live, live_session
from tests.realtime.clients import LiveClient


async def _ask(live: Live, ctx: LiveContext, text: str) -> uuid.UUID:
    async with unit_of_work(make_sessionmaker(live.engine)) as session:
        return (await qa.ask(session, ctx, text, False)).id


async def _votes(live: Live, hub: Hub, casts: list[Cast]) -> list[int | FestivalError]:
    async with unit_of_work(make_sessionmaker(live.engine)) as session:
        return await vote_many(session, casts)


async def _counts(live: Live) -> dict[uuid.UUID, int]:
    async with live.engine.connect() as connection:
        rows = await connection.execute(select(Question.id, Question.votes))
        return {qid: votes for qid, votes in rows}


async def _rows(live: Live) -> set[tuple[uuid.UUID, uuid.UUID]]:
    async with live.engine.connect() as connection:
        rows = await connection.execute(select(QuestionVote.question_id, QuestionVote.voter_id))
        return {(q, v) for q, v in rows}


def _offered(hub: Hub, live: Live) -> dict[str, tuple[int, object]]:
    channel = hub.channels.get(str(live.session_id))
    return channel.coalescer.take(math.inf) if channel else {}


async def test_a_batch_counts_each_vote_as_if_they_ran_in_order(backend: Backend, hub: Hub) -> None:
    live = await live_session(backend.engine)
    mod = await live.enter(hub, await live.moderator())
    async with unit_of_work(make_sessionmaker(live.engine)) as session:
        await qa.set_pre_moderation(session, mod, False)
    ada, bo, cy = [await live.enter(hub, await live.attendee(n)) for n in ("Ada", "Bo", "Cy")]
    first, second = await _ask(live, ada, "First?"), await _ask(live, ada, "Second?")
    _offered(hub, live)

    outcomes = await _votes(
        live,
        hub,
        [
            Cast(ada, first, True),
            Cast(bo, first, True),
            Cast(ada, first, False),  # an up then a take-back by the same voter
            Cast(ada, first, True),
            Cast(bo, first, True),  # twice: counted once
            Cast(cy, second, False),  # taking back what was never given
            Cast(ada, second, True),
            Cast(ada, second, False),
        ],
    )

    assert outcomes == [1, 2, 1, 2, 2, 0, 1, 0]
    counts = await _counts(live)
    assert (counts[first], counts[second]) == (2, 0)
    assert await _rows(live) == {(first, ada.voter_id), (first, bo.voter_id)}
    assert {k: v[1] for k, v in _offered(hub, live).items()} == {f"q:{first}": 2}

    assert await _votes(live, hub, [Cast(bo, first, False), Cast(bo, first, False)]) == [1, 1]
    assert (await _counts(live))[first] == 1


async def test_a_vote_on_an_unknown_or_hidden_question_fails_alone(
    backend: Backend, hub: Hub
) -> None:
    live, elsewhere = await live_session(backend.engine), await live_session(backend.engine)
    mod = await live.enter(hub, await live.moderator())
    ada, bo = (
        await live.enter(hub, await live.attendee("Ada")),
        await live.enter(hub, await live.attendee("Bo")),
    )
    shown, hidden = await _ask(live, ada, "Shown?"), await _ask(live, ada, "Pending?")
    async with unit_of_work(make_sessionmaker(live.engine)) as session:
        await qa.moderate(session, mod, shown, "approve")
    other_mod = await elsewhere.enter(hub, await elsewhere.moderator())
    other = await _ask(elsewhere, await elsewhere.enter(hub, await elsewhere.attendee()), "?")
    async with unit_of_work(make_sessionmaker(live.engine)) as session:
        await qa.moderate(session, other_mod, other, "approve")

    outcomes = await _votes(
        live,
        hub,
        [
            Cast(bo, shown, True),
            Cast(bo, hidden, True),
            Cast(bo, uuid.uuid4(), True),
            Cast(bo, other, True),  # a visible question, but of another session
            Cast(ada, shown, True),
            Cast(mod, shown, True),
        ],
    )

    assert outcomes[0] == 1
    assert [type(o) for o in outcomes[1:4]] == [QuestionNotFound] * 3
    assert outcomes[4] == 2
    assert isinstance(outcomes[5], Forbidden)
    counts = await _counts(live)
    assert (counts[shown], counts[hidden], counts[other]) == (2, 0, 0)
    assert await _rows(live) == {(shown, bo.voter_id), (shown, ada.voter_id)}


async def test_votes_rolled_back_are_neither_counted_nor_offered(
    backend: Backend, hub: Hub
) -> None:
    live = await live_session(backend.engine)
    mod = await live.enter(hub, await live.moderator())
    ada = await live.enter(hub, await live.attendee("Ada"))
    shown = await _ask(live, ada, "Shown?")
    async with unit_of_work(make_sessionmaker(live.engine)) as session:
        await qa.moderate(session, mod, shown, "approve")
    _offered(hub, live)

    async def fail_after_voting() -> None:
        async with unit_of_work(make_sessionmaker(live.engine)) as session:
            assert await vote_many(session, [Cast(ada, shown, True)]) == [1]
            assert _offered(hub, live) == {}
            raise RuntimeError("the unit of work fails after the votes")

    with pytest.raises(RuntimeError):
        await fail_after_voting()

    assert _offered(hub, live) == {}
    assert (await _counts(live))[shown] == 0
    assert await _rows(live) == set()


async def test_concurrent_voters_over_sockets_end_on_the_exact_counts(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    mod = await LiveClient.open(live_server.ws_url, live.session_id, await live.moderator())
    await mod.event("snapshot")
    qids = []
    for wording in ("One?", "Two?", "Three?"):
        asked = await _ask_on_socket(live_server, live, wording)
        await mod.ok("question.moderate", {"question_id": asked, "action": "approve"})
        qids.append(asked)
    one, two, three = qids
    voters = [
        await LiveClient.open(live_server.ws_url, live.session_id, await live.attendee())
        for _ in range(12)
    ]
    for voter in voters:
        await voter.event("snapshot")
    keeps = [(one, True), (two, True), (one, False), (three, True), (one, True), (two, True)]
    drops = [(one, True), (one, False), (two, True), (three, True), (three, False), (three, False)]

    async def storm(voter: LiveClient, plan: list[tuple[str, bool]]) -> list[dict[str, object]]:
        # Every frame goes out before any ack is read: they meet in the server's batches.
        ids = [await voter.send("question.vote", {"question_id": q, "up": up}) for q, up in plan]
        while not all(i in voter.replies for i in ids):
            await voter.read()
        return [voter.replies.pop(i) for i in ids]

    replies = await asyncio.gather(
        *(storm(v, keeps if i % 2 == 0 else drops) for i, v in enumerate(voters))
    )

    assert {r["type"] for rs in replies for r in rs} == {"ack"}
    assert all(rs[1]["data"]["up"] is (i % 2 == 0) for i, rs in enumerate(replies))
    expected = {one: 6, two: 12, three: 6}
    assert {str(q): n for q, n in (await _counts(live)).items()} == expected
    final = await mod.event("question.votes", lambda d: mod.vote_counts() == expected)
    assert final["type"] == "question.votes"
    for client in (mod, *voters):
        await client.close()


async def _ask_on_socket(server: LiveServer, live: Live, text: str) -> str:
    asker = await LiveClient.open(server.ws_url, live.session_id, await live.attendee())
    await asker.event("snapshot")
    qid: str = (await asker.ok("question.ask", {"text": text}))["question"]["id"]
    await asker.close()
    return qid


@POSTGRES_ONLY  # SQLite has one writer: nothing to deadlock with
async def test_a_batch_that_loses_a_deadlock_is_run_again(backend: Backend, hub: Hub) -> None:
    live = await live_session(backend.engine)
    mod = await live.enter(hub, await live.moderator())
    async with unit_of_work(make_sessionmaker(live.engine)) as session:
        await qa.set_pre_moderation(session, mod, False)
    ada = await live.enter(hub, await live.attendee("Ada"))
    low, high = sorted([await _ask(live, ada, "One?"), await _ask(live, ada, "Two?")])
    runtime = LiveRuntime(hub, make_sessionmaker(live.engine))

    async with live.engine.connect() as other:
        # The other side waits long before looking for deadlocks: the batch is the one broken.
        await other.execute(text("SET deadlock_timeout = '60s'"))
        await other.execute(select(Question.id).where(Question.id == high).with_for_update())
        acks = [
            runtime.submit(ada, Command("question.vote", n, VoteFrame(question_id=q)))
            for n, q in enumerate((low, high))
        ]
        while not await _waiting_for_a_lock(live.engine):  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.01)
        await other.execute(select(Question.id).where(Question.id == low).with_for_update())
        await other.commit()

    replies = [json.loads(await a) for a in acks]
    assert [(r["type"], r["data"]["votes"]) for r in replies] == [("ack", 1), ("ack", 1)]
    counts = await _counts(live)
    assert (counts[low], counts[high]) == (1, 1)


async def _waiting_for_a_lock(engine: AsyncEngine) -> bool:
    """Whether a connection waits for a lock (asked afresh: the view is frozen per transaction)."""
    async with engine.connect() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )
    return bool(waiting)
