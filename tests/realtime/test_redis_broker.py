"""Two hubs, two RedisBrokers, one real Redis: the multi-node guarantees without a database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from realtime.broker import RedisBroker
from realtime.hub import Hub
from realtime.protocol import Event
from tests.realtime.clients import Collecting

pytestmark = pytest.mark.redis


async def _snapshot(seq: int) -> dict[str, object]:
    return {"seq": seq}


@pytest.fixture
async def hubs(redis_url: str) -> AsyncIterator[tuple[Hub, Hub, Redis]]:
    prefix = f"test-{uuid.uuid4().hex}"
    redis = Redis.from_url(redis_url)
    one = Hub(RedisBroker(redis, prefix=prefix), interval=0.02)
    two = Hub(RedisBroker(redis, prefix=prefix), interval=0.02)
    await one.start()
    await two.start()
    yield one, two, redis
    await one.stop()
    await two.stop()
    for key in await redis.keys(f"{prefix}:*"):
        await redis.delete(key)
    await redis.aclose()


async def test_numbers_have_no_gaps_or_duplicates_when_two_nodes_publish_at_once(
    hubs: tuple[Hub, Hub, Redis],
) -> None:
    one, two, _ = hubs
    channel = str(uuid.uuid4())
    here, there = Collecting(), Collecting()
    await one.join(channel, here, "moderator", None, _snapshot)
    await two.join(channel, there, "moderator", None, _snapshot)

    async def burst(hub: Hub, tag: str) -> None:
        for i in range(100):
            await hub.publish(uuid.UUID(channel), Event("question.added", {"tag": tag, "i": i}))

    await asyncio.gather(burst(one, "one"), burst(two, "two"))
    for seen in (here, there):
        while sum(f["type"] == "question.added" for f in seen.frames) < 200:
            seen.arrived.clear()
            await asyncio.wait_for(seen.arrived.wait(), 10)
        seqs = seen.seqs()[1:]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        added = [
            (f["data"]["tag"], f["data"]["i"]) for f in seen.frames if f["type"] == "question.added"
        ]  # type: ignore[index]
        assert sorted(added) == sorted((tag, i) for tag in ("one", "two") for i in range(100))
        assert [i for tag, i in added if tag == "one"] == list(range(100))
    common = max(here.seqs()[1], there.seqs()[1])
    assert [f for f in here.frames if f.get("seq", 0) >= common] == [  # type: ignore[operator]
        f
        for f in there.frames
        if f.get("seq", 0) >= common  # type: ignore[operator]
    ]


async def test_a_client_resumes_on_the_other_node_from_the_stream(
    hubs: tuple[Hub, Hub, Redis],
) -> None:
    one, two, _ = hubs
    channel = str(uuid.uuid4())
    early = Collecting()
    await one.join(channel, early, "attendee", None, _snapshot)
    for i in range(30):
        await one.publish(uuid.UUID(channel), Event("question.added", {"i": i}))
    while sum(f["type"] == "question.added" for f in early.frames) < 30:
        await early.wait_for(len(early.frames) + 1)
    added = [f for f in early.frames if f["type"] == "question.added"]
    since, upto = added[9]["seq"], added[-1]["seq"]
    late = Collecting()
    await two.join(channel, late, "attendee", since, _snapshot)  # type: ignore[arg-type]
    while sum(f["type"] == "question.added" for f in late.frames) < 20:
        await late.wait_for(len(late.frames) + 1)
    replayed = [f for f in late.frames if f["seq"] <= upto]  # type: ignore[operator]
    assert replayed == [f for f in early.frames if since < f["seq"] <= upto]  # type: ignore[operator]
    assert [f["data"]["i"] for f in replayed if f["type"] == "question.added"] == list(
        range(10, 30)
    )  # type: ignore[index]


async def test_older_counts_never_overwrite_newer_ones_across_nodes(
    hubs: tuple[Hub, Hub, Redis],
) -> None:
    one, two, _ = hubs
    channel = str(uuid.uuid4())
    watcher = Collecting()
    await one.join(channel, watcher, "attendee", None, _snapshot)
    qid = uuid.uuid4()
    two.offer_votes(uuid.UUID(channel), qid, 5, 42)
    await asyncio.sleep(0.2)
    one.offer_votes(uuid.UUID(channel), qid, 3, 40)
    await asyncio.sleep(0.2)
    votes = [f["data"] for f in watcher.frames if f["type"] == "question.votes"]
    assert votes == [{"counts": {str(qid): 42}}]


async def test_presence_is_the_sum_over_nodes(hubs: tuple[Hub, Hub, Redis]) -> None:
    one, two, _ = hubs
    channel = str(uuid.uuid4())
    first, second, third = Collecting(), Collecting(), Collecting()
    await one.join(channel, first, "attendee", None, _snapshot)
    await two.join(channel, second, "attendee", None, _snapshot)
    await two.join(channel, third, "attendee", None, _snapshot)
    while not [f for f in first.frames if f["type"] == "presence" and f["data"] == {"count": 3}]:
        first.arrived.clear()
        await asyncio.wait_for(first.arrived.wait(), 10)
