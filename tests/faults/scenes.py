"""A live session with people on both nodes, and the moves the fault tests make in it."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import METRICS_AUTH
from tests.factories.realtime import Live, live_session
from tests.faults.cluster import Cluster
from tests.faults.viewers import Screen, Viewer, converge, truth
from tests.realtime.nodes import Node


@dataclass
class Scene:
    """One live session (pre-moderated): a moderator on node a, attendees on both."""

    cluster: Cluster
    live: Live
    moderator_token: str
    moderator: Viewer
    people: list[Viewer]  # even: node a, odd: node b
    http: httpx.AsyncClient

    @property
    def viewers(self) -> list[Viewer]:
        return [self.moderator, *self.people]

    @property
    def on_b(self) -> list[Viewer]:
        return self.people[1::2]

    async def ask(self, who: Viewer, text: str) -> str:
        reply = await who.request("question.ask", {"text": text})
        assert reply["type"] == "ack", reply
        return str(reply["data"]["question"]["id"])

    async def approve(self, qid: str) -> dict[str, Any]:
        return await self.moderator.request(
            "question.moderate", {"question_id": qid, "action": "approve"}
        )

    async def vote_all(self, qid: str) -> None:
        for person in self.people:
            reply = await person.request("question.vote", {"question_id": qid, "up": True})
            assert reply["type"] == "ack", reply

    async def poll(self) -> tuple[str, list[str]]:
        made = await self.moderator.request(
            "poll.create", {"question": "Useful?", "kind": "single", "options": ["Yes", "No"]}
        )
        poll = made["data"]["poll"]
        opened = await self.moderator.request("poll.open", {"poll_id": poll["id"]})
        assert opened["type"] == "ack", opened
        return poll["id"], [o["id"] for o in poll["options"]]

    async def ballot(self, who: Viewer, poll_id: str, option: str) -> None:
        reply = await who.request("poll.vote", {"poll_id": poll_id, "option_ids": [option]})
        assert reply["type"] == "ack", reply

    async def truth(self) -> dict[str, Screen]:
        screens = await truth(
            self.cluster.engine, self.http, self.live.session_id, self.moderator_token
        )
        here = len(self.viewers)
        for screen in screens.values():
            screen["presence"] = here
        return screens

    async def converge(self, viewers: list[Viewer] | None = None) -> None:
        """Every screen (questions, counts, poll results, presence) equals the database's."""
        await converge(viewers or self.viewers, self.truth)

    async def close(self) -> None:
        for viewer in self.viewers:
            await viewer.close()
        await self.http.aclose()


async def scene(cluster: Cluster, people: int = 4) -> Scene:
    live = await live_session(cluster.engine)
    a, b = cluster.nodes
    token = await live.moderator()
    moderator = await Viewer.join(a.ws_url, live.session_id, token, "moderator")
    viewers = []
    for i in range(people):
        node = (a, b)[i % 2]
        raw = await live.attendee(f"Person {i}")
        viewers.append(await Viewer.join(node.ws_url, live.session_id, raw, "attendee"))
    http = httpx.AsyncClient(base_url=a.url, timeout=30)
    made = Scene(cluster, live, token, moderator, viewers, http)
    await made.converge()  # everyone here counts everyone: the presence has gone round
    return made


async def readiness(node: Node) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        got = await http.get("/readyz")
    return got.status_code, got.json()


async def wait_ready(*nodes: Node, ready: bool = True, within: float = 30) -> None:
    """Until each node's /readyz says 200 (or, ``ready=False``, 503)."""
    deadline = time.monotonic() + within
    for node in nodes:
        while (await readiness(node))[0] != (200 if ready else 503):
            assert time.monotonic() < deadline, f"{node.url} /readyz never turned {ready}"
            await asyncio.sleep(0.05)


async def metrics(node: Node) -> dict[str, float]:
    """The node's /metrics, as the unlabelled and labelled series it holds."""
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        text = (await http.get("/metrics", headers=METRICS_AUTH)).text
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def new_id() -> str:
    return uuid.uuid4().hex[:6]
