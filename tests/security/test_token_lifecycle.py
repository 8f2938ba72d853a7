"""Tokens die with their right (issue 16, finding 4), on a real uvicorn.

After ``DELETE /api/v1/me/registration`` the attendee token is refused
everywhere, 401 problem JSON over HTTP and a 401 denial of the websocket
handshake, and the attendee's open sockets close with the policy code right
after the cancel commits, on every node that holds one (through Redis). A
waitlisted attendee reads their registration and the programme but joins,
asks and votes in no live session until promoted.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed, InvalidStatus

from api.app import create_app
from festival.db import make_sessionmaker, unit_of_work
from festival.settings import Settings
from schedule.models import Session
from tests.conftest import Backend, LiveServer, uvicorn_in_loop
from tests.factories.festival import auth
from tests.factories.tickets import open_festival, registered
from tests.realtime.clients import LiveClient

PROBLEM = "application/problem+json"


async def _live_qa_session(backend: Backend, festival_id: str) -> uuid.UUID:
    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        talk = Session(
            id=uuid.uuid4(),
            festival_id=uuid.UUID(festival_id),
            title="Keynote",
            format="keynote",
            starts_at=datetime(2030, 10, 8, 9, tzinfo=UTC),
            ends_at=datetime(2030, 10, 8, 10, tzinfo=UTC),
            live_qa=True,
        )
        session.add(talk)
    return talk.id


async def _denied(server: LiveServer, session_id: uuid.UUID, raw: str) -> tuple[int, Any]:
    with pytest.raises(InvalidStatus) as caught:
        await LiveClient.open(server.ws_url, session_id, raw)
    response = caught.value.response
    assert response.headers["content-type"] == PROBLEM
    return response.status_code, json.loads(response.body or b"{}")


async def _closed_with(client: LiveClient) -> int | None:
    try:
        while True:
            await client.read()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None


async def test_a_cancelled_attendee_token_is_refused_everywhere_and_its_sockets_close(
    live_server: LiveServer, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        made, _ = await open_festival(http, backend.engine)
        session_id = await _live_qa_session(backend, made["id"])
        me = await registered(http, made["slug"])
        raw, bystander = me["attendee_token"], (await registered(http, made["slug"]))
        questions = f"/api/v1/sessions/{session_id}/questions"

        # Before: the token does all of it.
        assert (await http.get("/api/v1/me", headers=auth(raw))).status_code == 200
        asked = await http.post(questions, json={"text": "Before?"}, headers=auth(raw))
        assert asked.status_code == 201, asked.text
        tab = await LiveClient.open(live_server.ws_url, session_id, raw)
        phone = await LiveClient.open(live_server.ws_url, session_id, raw)
        other = await LiveClient.open(live_server.ws_url, session_id, bystander["attendee_token"])
        for client in (tab, phone, other):
            await client.event("snapshot")

        cancelled = await http.delete("/api/v1/me/registration", headers=auth(raw))
        assert cancelled.status_code == 204, cancelled.text

        # Open sockets close with the policy code, at once; a bystander stays.
        codes = await asyncio.wait_for(asyncio.gather(_closed_with(tab), _closed_with(phone)), 5)
        assert codes == [1008, 1008]
        assert await other.ok("ping") == {"pong": True}

        # Every door refuses the token with 401 problem JSON.
        qid = asked.json()["id"]
        refused = [
            await http.get("/api/v1/me", headers=auth(raw)),
            await http.put(f"/api/v1/me/favourites/{session_id}", headers=auth(raw)),
            await http.post(questions, json={"text": "After?"}, headers=auth(raw)),
            await http.post(f"{questions}/{qid}/vote", json={"up": True}, headers=auth(raw)),
            await http.delete("/api/v1/me/registration", headers=auth(raw)),
        ]
        for reply in refused:
            assert (reply.status_code, reply.headers["content-type"]) == (401, PROBLEM), (
                reply.request.url,
                reply.text,
            )
        status, body = await _denied(live_server, session_id, raw)
        assert (status, body["status"]) == (401, 401)
        await other.close()


async def test_a_waitlisted_attendee_reads_but_joins_no_live_session(
    live_server: LiveServer, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        made, _ = await open_festival(http, backend.engine, capacity=1)
        session_id = await _live_qa_session(backend, made["id"])
        first = await registered(http, made["slug"])
        waiting = await registered(http, made["slug"])
        assert waiting["status"] == "waitlisted"
        raw = waiting["attendee_token"]
        questions = f"/api/v1/sessions/{session_id}/questions"

        mine = await http.get("/api/v1/me", headers=auth(raw))
        assert mine.status_code == 200, mine.text
        programme = await http.get(f"/api/v1/festivals/{made['slug']}/sessions")
        assert programme.status_code == 200
        asked = await http.post(questions, json={"text": "Waiting?"}, headers=auth(raw))
        assert (asked.status_code, asked.json()["code"]) == (403, "not_a_participant")
        status, body = await _denied(live_server, session_id, raw)
        assert (status, body["code"]) == (403, "not_a_participant")

        # Promoted when the confirmed attendee cancels: the same token joins.
        gone = await http.delete("/api/v1/me/registration", headers=auth(first["attendee_token"]))
        assert gone.status_code == 204
        client = await LiveClient.open(live_server.ws_url, session_id, raw)
        assert (await client.event("snapshot"))["data"]["role"] == "attendee"
        asked = await http.post(questions, json={"text": "Promoted!"}, headers=auth(raw))
        assert asked.status_code == 201, asked.text
        await client.close()


async def test_the_organiser_may_let_the_waiting_list_into_live_sessions(
    live_server: LiveServer, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        made, organiser = await open_festival(http, backend.engine, capacity=1)
        session_id = await _live_qa_session(backend, made["id"])
        await registered(http, made["slug"])
        raw = (await registered(http, made["slug"]))["attendee_token"]
        switched = await http.patch(
            f"/api/v1/festivals/{made['slug']}",
            json={"waitlisted_live": True},
            headers=auth(organiser),
        )
        assert (switched.status_code, switched.json()["waitlisted_live"]) == (200, True)

        client = await LiveClient.open(live_server.ws_url, session_id, raw)
        assert (await client.event("snapshot"))["data"]["role"] == "attendee"
        questions = f"/api/v1/sessions/{session_id}/questions"
        asked = await http.post(questions, json={"text": "From the queue"}, headers=auth(raw))
        assert asked.status_code == 201, asked.text
        await client.close()

        # Switched off again: the waiting list is out of the next join and question.
        await http.patch(
            f"/api/v1/festivals/{made['slug']}",
            json={"waitlisted_live": False},
            headers=auth(organiser),
        )
        asked = await http.post(questions, json={"text": "Still?"}, headers=auth(raw))
        assert (asked.status_code, asked.json()["code"]) == (403, "not_a_participant")
        status, body = await _denied(live_server, session_id, raw)
        assert (status, body["code"]) == (403, "not_a_participant")


@pytest.fixture
async def two_nodes(settings: Settings, redis_url: str) -> AsyncIterator[tuple[int, int, FastAPI]]:
    """Two apps (ports), each its own hub, on one database and one Redis."""
    async with _nodes(settings, redis_url) as nodes:
        yield nodes


@asynccontextmanager
async def _nodes(
    settings: Settings, redis_url: str, **changes: Any
) -> AsyncIterator[tuple[int, int, FastAPI]]:
    """Two apps served on loopback sharing one Redis (a prefix of their own, wiped
    after): their ports, and the second app."""
    prefix = f"test-{uuid.uuid4().hex}"
    shared = settings.model_copy(update={"redis_url": redis_url, "redis_prefix": prefix, **changes})
    one, two = create_app(shared), create_app(shared)
    try:
        async with (
            uvicorn_in_loop(one, timeout_keep_alive=60) as a,
            uvicorn_in_loop(two, timeout_keep_alive=60) as b,
        ):
            yield a, b, two
    finally:
        redis = Redis.from_url(redis_url)
        for key in await redis.keys(f"{prefix}:*"):
            await redis.delete(key)
        await redis.aclose()


@pytest.mark.redis
async def test_a_cancel_on_one_node_closes_the_sockets_held_by_another(
    two_nodes: tuple[int, int, FastAPI], backend: Backend
) -> None:
    here, there = (f"127.0.0.1:{port}" for port in two_nodes[:2])
    # Both apps share this process: the far one must hear of it through Redis only.
    two_nodes[2].state.live_unsubscribe()
    async with httpx.AsyncClient(base_url=f"http://{here}", timeout=30) as http:
        made, _ = await open_festival(http, backend.engine)
        session_id = await _live_qa_session(backend, made["id"])
        raw = (await registered(http, made["slug"]))["attendee_token"]
        bystander = (await registered(http, made["slug"]))["attendee_token"]
        far = await LiveClient.open(f"ws://{there}", session_id, raw)
        near = await LiveClient.open(f"ws://{here}", session_id, raw)
        other = await LiveClient.open(f"ws://{there}", session_id, bystander)
        for client in (far, near, other):
            await client.event("snapshot")
        cancelled = await http.delete("/api/v1/me/registration", headers=auth(raw))
        assert cancelled.status_code == 204, cancelled.text
        codes = await asyncio.wait_for(asyncio.gather(_closed_with(far), _closed_with(near)), 5)
        assert codes == [1008, 1008]
        assert await other.ok("ping") == {"pong": True}
        await other.close()


@pytest.mark.redis
async def test_joins_of_one_token_are_counted_across_nodes(
    settings: Settings, redis_url: str, backend: Backend
) -> None:
    """The shared limiter counts a token's joins on every node: with 3 a minute,
    the fourth join is refused whichever node it reaches (each node's own bucket
    would let ten through)."""
    async with (
        _nodes(settings, redis_url, rate_limits=True, live_joins_per_minute=3) as (a, b, _),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{a}", timeout=30) as http,
    ):
        made, _ = await open_festival(http, backend.engine)
        session_id = await _live_qa_session(backend, made["id"])
        raw = (await registered(http, made["slug"]))["attendee_token"]
        for port in (a, b, a):
            client = await LiveClient.open(f"ws://127.0.0.1:{port}", session_id, raw)
            await client.event("snapshot")
            await client.close()
        with pytest.raises(InvalidStatus) as caught:
            await LiveClient.open(f"ws://127.0.0.1:{b}", session_id, raw)
        assert caught.value.response.status_code == 429
        other = (await registered(http, made["slug"]))["attendee_token"]
        fine = await LiveClient.open(f"ws://127.0.0.1:{b}", session_id, other)
        await fine.event("snapshot")
        await fine.close()
