"""A socket that resumes with ``since=`` gets what its role saw live, never the moderation queue.

Issue 16, finding 1: replay sent every event of the gap, moderator-only ones
(pending and dismissed questions, draft polls, hidden results) included. Each
role has a twin that stays connected while its own socket drops and resumes;
the resumed socket must get, frame for frame, what the twin got over the gap:
on one node, and on another node that replays the gap from Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from api.app import create_app
from festival.settings import Settings
from tests.conftest import Backend, LiveServer, uvicorn_in_loop
from tests.factories.festival import auth
from tests.factories.realtime import Live, live_session
from tests.realtime.clients import LiveClient

ROLES = ("attendee", "moderator", "projector")
Frame = dict[str, Any]


@dataclass
class Node:
    url: str
    ws_url: str
    app: FastAPI


@dataclass
class Gap:
    """What happened while one socket of each role was away."""

    since: dict[str, int]
    upto: int
    twins: dict[str, LiveClient]
    approved: list[str]
    dismissed: str
    pending: str
    draft: str
    hidden: str


async def _token(live: Live, role: str) -> str:
    if role == "attendee":
        return await live.attendee()
    return await live.moderator() if role == "moderator" else await live.projector()


async def _joined(node: Node, live: Live, raw: str) -> LiveClient:
    client = await LiveClient.open(node.ws_url, live.session_id, raw)
    await client.event("snapshot")
    return client


async def _ask(node: Node, live: Live, text: str) -> str:
    """A question from a new attendee each time (an attendee's questions are rate-limited)."""
    async with httpx.AsyncClient(base_url=node.url) as http:
        made = await http.post(
            f"/api/v1/sessions/{live.session_id}/questions",
            json={"text": text},
            headers=auth(await live.attendee("Asker")),
        )
    assert made.status_code == 201, made.text
    qid: str = made.json()["id"]
    return qid


async def _poll(moderator: LiveClient, question: str, *, hide_results: bool) -> dict[str, Any]:
    data = {"question": question, "kind": "single", "options": ["Yes", "No"]}
    made = await moderator.ok("poll.create", data | {"hide_results": hide_results})
    poll: dict[str, Any] = made["poll"]
    return poll


async def _pre_moderation_on(node: Node, live: Live) -> None:
    async with httpx.AsyncClient(base_url=node.url) as http:
        switched = await http.patch(
            f"/api/v1/sessions/{live.session_id}/live",
            json={"pre_moderation": True},
            headers=auth(live.organiser_token),
        )
    assert switched.status_code == 200, switched.text


async def _drop_one_of_each_while_the_queue_moves(
    node: Node, live: Live, dropped: dict[str, str]
) -> Gap:
    """Twins stay on ``node``; one socket of each role drops; then questions are
    asked (pre-moderated), approved, dismissed or left pending, a draft poll and
    a poll with hidden results get made, and the hidden one gets a vote."""
    await _pre_moderation_on(node, live)
    twins = {role: await _joined(node, live, await _token(live, role)) for role in ROLES}
    leavers = {role: await _joined(node, live, dropped[role]) for role in ROLES}
    since = {}
    for role, leaver in leavers.items():
        await leaver.ok("ping")  # anything sent after this but unread counts as missed
        since[role] = leaver.last_seq
        await leaver.close()

    moderator = twins["moderator"]
    approved = await _ask(node, live, "Approved: who funds the pilot?")
    dismissed = await _ask(node, live, "Dismissed: call me on +31 6 1234 5678")
    pending = await _ask(node, live, "Pending: a private matter about my employer")
    for qid, action in ((approved, "approve"), (dismissed, "dismiss")):
        await moderator.ok("question.moderate", {"question_id": qid, "action": action})
    draft = await _poll(moderator, "Draft: lunch?", hide_results=False)
    hidden = await _poll(moderator, "Hidden: was it useful?", hide_results=True)
    await moderator.ok("poll.open", {"poll_id": hidden["id"]})
    choice = [hidden["options"][0]["id"]]
    await twins["attendee"].ok("poll.vote", {"poll_id": hidden["id"], "option_ids": choice})
    await moderator.event("poll.results", lambda d: d["poll_id"] == hidden["id"] and d["total"])

    last = await _ask(node, live, "Last: approved to close the gap")
    await moderator.ok("question.moderate", {"question_id": last, "action": "approve"})

    def closing(d: dict[str, Any]) -> bool:
        return bool(d["id"] == last and d["status"] == "approved")

    upto = int((await moderator.event("question.updated", closing))["seq"])
    for twin in twins.values():
        await twin.event("question.updated", closing)
    return Gap(since, upto, twins, [approved, last], dismissed, pending, draft["id"], hidden["id"])


def _between(client: LiveClient, since: int, upto: int) -> list[Frame]:
    return [e for e in client.events if since < e["seq"] <= upto]


def _outline(frames: list[Frame]) -> list[tuple[int, str, str | None]]:
    return [(f["seq"], f["type"], f["data"].get("id", f["data"].get("poll_id"))) for f in frames]


async def _resumed_get_what_their_twins_got(
    node: Node, live: Live, gap: Gap, dropped: dict[str, str]
) -> None:
    back = {
        role: await LiveClient.open(node.ws_url, live.session_id, raw, since=gap.since[role])
        for role, raw in dropped.items()
    }
    for client in back.values():
        while client.last_seq < gap.upto:
            await client.read()
    live_saw = {role: _between(gap.twins[role], gap.since[role], gap.upto) for role in ROLES}
    replayed = {role: _between(back[role], gap.since[role], gap.upto) for role in ROLES}

    # The data that could leak is there: the moderator saw the queue live, the others did not.
    ids = {role: {f["data"].get("id") for f in frames} for role, frames in live_saw.items()}
    assert {gap.dismissed, gap.pending, gap.draft} <= ids["moderator"]
    assert {gap.dismissed, gap.pending, gap.draft} & (ids["attendee"] | ids["projector"]) == set()
    hidden_results = {
        role: any(f["type"] == "poll.results" for f in frames) for role, frames in live_saw.items()
    }
    assert hidden_results == {"attendee": False, "moderator": True, "projector": True}

    assert {r: _outline(f) for r, f in replayed.items()} == {
        r: _outline(f) for r, f in live_saw.items()
    }
    assert replayed == live_saw
    assert [e["type"] for c in back.values() for e in c.events].count("snapshot") == 0
    for client in [*back.values(), *gap.twins.values()]:
        await client.close()


async def _snapshots_show_each_role_its_share(node: Node, live: Live, gap: Gap) -> None:
    """A new socket and one resuming from too far back both start from a snapshot."""
    shown: dict[str, list[dict[str, Any]]] = {role: [] for role in ROLES}
    for role in ROLES:
        raw = await _token(live, role)
        for since in (None, gap.upto + 10_000):
            client = await LiveClient.open(node.ws_url, live.session_id, raw, since=since)
            snapshot = (await client.event("snapshot"))["data"]
            assert snapshot["reason"] == ("initial" if since is None else "too_old")
            assert (snapshot["role"], snapshot["pre_moderation"]) == (role, True)
            questions = sorted(q["id"] for q in snapshot["questions"])
            polls = {p["id"]: "results" in p for p in snapshot["polls"]}
            shown[role].append({"questions": questions, "polls": polls})
            await client.close()
    public = sorted(gap.approved)
    queue = sorted([*gap.approved, gap.dismissed, gap.pending])
    assert shown == {
        "attendee": [{"questions": public, "polls": {gap.hidden: False}}] * 2,
        "moderator": [{"questions": queue, "polls": {gap.draft: False, gap.hidden: True}}] * 2,
        "projector": [{"questions": public, "polls": {gap.hidden: True}}] * 2,
    }


async def test_resumed_sockets_get_what_their_role_saw_live_on_one_node(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    node = Node(live_server.url, live_server.ws_url, live_server.app)
    dropped = {role: await _token(live, role) for role in ROLES}
    gap = await _drop_one_of_each_while_the_queue_moves(node, live, dropped)
    await _resumed_get_what_their_twins_got(node, live, gap, dropped)
    await _snapshots_show_each_role_its_share(node, live, gap)


def _node(port: int, app: FastAPI) -> Node:
    return Node(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", app)


@pytest.fixture
async def two_nodes(settings: Settings, redis_url: str) -> AsyncIterator[tuple[Node, Node]]:
    """Two apps, each its own hub and Redis broker, on one database and one Redis."""
    prefix = f"test-{uuid.uuid4().hex}"
    shared = settings.model_copy(update={"redis_url": redis_url, "redis_prefix": prefix})
    one, two = create_app(shared), create_app(shared)
    try:
        async with (
            uvicorn_in_loop(one, timeout_keep_alive=60) as a,
            uvicorn_in_loop(two, timeout_keep_alive=60) as b,
        ):
            yield _node(a, one), _node(b, two)
    finally:
        redis = Redis.from_url(redis_url)
        for key in await redis.keys(f"{prefix}:*"):
            await redis.delete(key)
        await redis.aclose()


@pytest.mark.redis
async def test_resumed_sockets_get_what_their_role_saw_live_on_another_node_from_redis(
    two_nodes: tuple[Node, Node], backend: Backend
) -> None:
    """The other node has not watched the session: the gap comes from the Redis stream."""
    here, there = two_nodes
    live = await live_session(backend.engine)
    dropped = {role: await _token(live, role) for role in ROLES}
    gap = await _drop_one_of_each_while_the_queue_moves(here, live, dropped)
    assert str(live.session_id) not in there.app.state.live.hub.channels
    await _resumed_get_what_their_twins_got(there, live, gap, dropped)
    await _snapshots_show_each_role_its_share(there, live, gap)


def test_a_stream_entry_without_an_audience_reaches_moderators_only() -> None:
    """A foreign or damaged entry in the Redis stream fails closed, not open."""
    from realtime.broker import _load
    from realtime.protocol import sees

    stamped = _load(7, '{"t":"question.added","d":{"id":"q1","text":"secret?"}}')
    assert stamped.event.audience == "moderators"
    assert [sees(role, stamped.event.audience) for role in ("attendee", "projector")] == [
        False,
        False,
    ]
