"""A node killed (SIGKILL) in the middle of a vote storm.

Its sockets resume on the other node with ``since=``; every vote acknowledged
before the kill is counted, none twice, and every screen ends equal to the
database, presence included (the dead node's count lapses).
"""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.faults.cluster import Cluster
from tests.faults.scenes import scene
from tests.faults.viewers import Viewer

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.serial]


async def _storm(
    voter: Viewer, qids: list[str], acked: dict[str, bool], unsure: set[str], stop: asyncio.Event
) -> None:
    """Vote until ``stop`` or until the socket dies; what was acked, and the vote left
    without an answer by the death (it may or may not have been counted)."""
    rng = random.Random(voter.token)
    while not stop.is_set():
        qid, up = rng.choice(qids), rng.random() < 0.7
        try:
            reply = await voter.request("question.vote", {"question_id": qid, "up": up})
        except (ConnectionClosed, TimeoutError):
            unsure.add(qid)
            return
        if reply["type"] == "ack":
            acked[qid] = up
        await asyncio.sleep(0.1)


async def test_a_node_killed_in_a_vote_storm_loses_no_acked_vote_and_every_screen_ends_exact(
    cluster: Cluster,
) -> None:
    room = await scene(cluster, people=6)
    a, b = cluster.nodes
    qids = [await room.ask(room.people[i], f"Storm question {i}?") for i in range(3)]
    for qid in qids:
        await room.approve(qid)
    poll, options = await room.poll()
    for i, person in enumerate(room.people):
        await room.ballot(person, poll, options[i % 2])
    await room.converge()

    acked: list[dict[str, bool]] = [{} for _ in room.people]
    unsure: list[set[str]] = [set() for _ in room.people]
    stop = asyncio.Event()
    storm = [
        asyncio.create_task(_storm(p, qids, acked[i], unsure[i], stop))
        for i, p in enumerate(room.people)
    ]
    try:
        await asyncio.sleep(1.0)
        a.process.kill()  # SIGKILL: no goodbye to its sockets, no presence withdrawn
        await a.process.wait()
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*storm)

        # The pages on node a reconnect where they can: node b.
        for viewer in [room.moderator, *room.people[0::2]]:
            await viewer.resume(b.ws_url, room.live.session_id)
        await room.http.aclose()
        room.http = httpx.AsyncClient(base_url=b.url, timeout=30)

        # Every acked vote is counted; a vote the kill left unanswered may or may not be.
        truth = await room.truth()
        for qid in qids:
            surely = sum(
                1 for i in range(len(room.people)) if acked[i].get(qid) and qid not in unsure[i]
            )
            maybe = sum(1 for i in range(len(room.people)) if qid in unsure[i])
            counted = truth["attendee"]["questions"][qid][2]
            assert surely <= counted <= surely + maybe

        # The storm goes on on node b, then every screen equals the database.
        stop.clear()
        storm = [
            asyncio.create_task(_storm(p, qids, acked[i], unsure[i], stop))
            for i, p in enumerate(room.people)
        ]
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*storm)
        for i, person in enumerate(room.people):
            await room.ballot(person, poll, options[(i + 1) % 2])
        await room.converge()
    finally:
        stop.set()
        await room.close()
        await cluster.restart_node(0)
