"""Scale-out: two `festival serve` processes share the database and Redis.

A question asked on one reaches the clients of the other; when one process is
killed, its clients resume on the other with nothing lost or doubled.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from realtime.models import Question
from tests.conftest import Backend
from tests.factories.festival import auth
from tests.factories.realtime import Live, live_session
from tests.realtime.clients import LiveClient
from tests.realtime.nodes import Node, serve

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def node_env(backend: Backend, redis_url: str) -> dict[str, str]:
    prefix = f"test-{uuid.uuid4().hex}"
    env = dict(os.environ)
    env |= {
        "FESTIVAL_DATABASE_URL": backend.url,
        "FESTIVAL_REDIS_URL": redis_url,
        "FESTIVAL_REDIS_PREFIX": prefix,
        "FESTIVAL_ENVIRONMENT": "test",
        "FESTIVAL_SECRET_KEY": "scale-out-test-secret-not-for-production",
        "FESTIVAL_LOG_LEVEL": "WARNING",
    }
    return env


async def _forget(redis_url: str, prefix: str) -> None:
    redis = Redis.from_url(redis_url)
    for key in await redis.keys(f"{prefix}:*"):
        await redis.delete(key)
    await redis.aclose()


@asynccontextmanager
async def _two_nodes(
    node_env: dict[str, str], redis_url: str, live: Live
) -> AsyncIterator[tuple[Node, Node]]:
    """Two server processes on one database and Redis, the session's questions
    going up without moderation; Redis is cleaned of the run's keys after."""
    try:
        async with serve(node_env) as a, serve(node_env) as b:
            async with httpx.AsyncClient(base_url=a.url) as http:
                switched = await http.patch(
                    f"/api/v1/sessions/{live.session_id}/live",
                    json={"pre_moderation": False},
                    headers=auth(live.organiser_token),
                )
            assert switched.status_code == 200
            yield a, b
    finally:
        await _forget(redis_url, node_env["FESTIVAL_REDIS_PREFIX"])


async def test_two_processes_serve_one_session_and_clients_resume_across_a_crash(
    node_env: dict[str, str], backend: Backend, redis_url: str
) -> None:
    live = await live_session(backend.engine)
    async with _two_nodes(node_env, redis_url, live) as (a, b):
        on_a = await LiveClient.open(a.ws_url, live.session_id, await live.attendee("Ada"))
        on_b = await LiveClient.open(b.ws_url, live.session_id, await live.attendee("Bo"))
        await on_a.event("snapshot")
        await on_b.event("snapshot")

        asked = await on_a.ok("question.ask", {"text": "Across nodes?"})
        qid = asked["question"]["id"]
        arrived = await on_b.event("question.added", lambda d: d["id"] == qid)
        assert arrived["data"]["text"] == "Across nodes?"
        await on_b.ok("question.vote", {"question_id": qid})
        await on_a.event("question.votes", lambda d: d["counts"].get(qid) == 1)

        since = on_a.last_seq
        a.process.kill()
        await a.process.wait()
        await on_a.drain()
        for i in range(3):
            await on_b.ok("question.ask", {"text": f"While A is down {i}?"})
        await on_b.event("question.added", lambda d: d["text"] == "While A is down 2?")
        upto = on_b.last_seq

        back = await LiveClient.open(b.ws_url, live.session_id, await live.attendee(), since=since)
        while back.last_seq < upto:
            await back.read()
        replayed = [e for e in back.events if e["seq"] <= upto]
        missed = [e for e in on_b.events if since < e["seq"] <= upto]
        assert "snapshot" not in [e["type"] for e in back.events]
        assert [e["seq"] for e in replayed] == list(range(since + 1, upto + 1))
        assert replayed == missed
        assert [e["data"]["text"] for e in replayed if e["type"] == "question.added"] == [
            f"While A is down {i}?" for i in range(3)
        ]
        await back.close()
        await on_b.close()


async def test_votes_on_two_processes_at_once_end_on_the_exact_counts_everywhere(
    node_env: dict[str, str], backend: Backend, redis_url: str
) -> None:
    live = await live_session(backend.engine)
    async with _two_nodes(node_env, redis_url, live) as (a, b):
        nodes = [a, b] * 5
        voters = [
            await LiveClient.open(n.ws_url, live.session_id, await live.attendee()) for n in nodes
        ]
        for voter in voters:
            await voter.event("snapshot")
        one = (await voters[0].ok("question.ask", {"text": "One?"}))["question"]["id"]
        two = (await voters[1].ok("question.ask", {"text": "Two?"}))["question"]["id"]
        plan = [(one, True), (two, True), (two, False), (one, True), (two, True)]

        async def vote(voter: LiveClient) -> set[str]:
            # All frames out before any ack: the votes of both nodes meet in their batches.
            ids = [await voter.send("question.vote", {"question_id": q, "up": u}) for q, u in plan]
            while not all(i in voter.replies for i in ids):
                await voter.read()
            return {voter.replies.pop(i)["type"] for i in ids}

        assert await asyncio.gather(*(vote(v) for v in voters)) == [{"ack"}] * len(voters)
        expected = {one: len(voters), two: len(voters)}
        async with backend.engine.connect() as connection:
            rows = await connection.execute(select(Question.id, Question.votes))
            assert {str(q): n for q, n in rows} == expected
        for watcher in voters[:2]:  # one on each node
            await watcher.event("question.votes", lambda d, w=watcher: w.vote_counts() == expected)
        for voter in voters:
            await voter.close()
