"""Redis restarted (with and without persistence) and paused, under two live nodes.

Each test ends with every screen (questions, vote counts, poll results, presence)
equal to the database's: nothing acked was lost, nothing counted twice.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.cluster import Cluster
from tests.faults.scenes import metrics, readiness, scene, wait_ready
from tests.faults.viewers import Viewer

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.serial]
# The bound: after a Redis restart, an approval on node a reaches node b's
# sockets within one second.
DELIVERY_BOUND = 1.0


async def test_after_a_redis_restart_without_persistence_approvals_reach_the_other_node_at_once(
    cluster: Cluster,
) -> None:
    room = await scene(cluster)
    a, b = cluster.nodes
    first = await room.ask(room.people[0], "Before the restart?")
    await room.approve(first)
    waiting = await room.ask(room.people[2], "Asked before, approved after?")
    await room.vote_all(first)
    poll, (yes, no) = await room.poll()
    await room.ballot(room.people[1], poll, yes)
    await room.converge()

    await cluster.redis.restart(persistent=False)  # every key is gone
    await wait_ready(a, b)
    sent = time.monotonic()
    approved = await room.approve(waiting)
    assert approved["type"] == "ack", approved
    for viewer in room.on_b:
        await viewer.until(lambda v: waiting in v.screen()["questions"], within=10)
        assert viewer.seen_at[waiting] - sent < DELIVERY_BOUND
    assert all("reset" in v.reasons for v in room.on_b)  # told, not left stale

    await room.vote_all(waiting)
    await room.ballot(room.people[3], poll, no)
    await room.converge()
    await room.close()


async def test_a_redis_back_from_an_older_snapshot_numbers_afresh_and_resumes_by_snapshot(
    cluster: Cluster,
) -> None:
    room = await scene(cluster)
    a, b = cluster.nodes
    first = await room.ask(room.people[0], "Saved in the snapshot?")
    await room.approve(first)
    await room.converge()
    await cluster.redis.save()  # what a persistent Redis comes back with
    for i in range(3):  # numbered after the save: Redis will have forgotten these numbers
        await room.approve(await room.ask(room.people[i % 4], f"After the save {i}?"))
    await room.vote_all(first)
    await room.converge()
    leaver = room.people.pop()
    since = leaver.seq
    await leaver.close()

    await cluster.redis.restart(persistent=True)
    await wait_ready(a, b)
    # Numbers after the save come round again in Redis; they must not pass as old ones.
    for i in range(3):
        await room.approve(await room.ask(room.people[i % 3], f"After the restart {i}?"))
    await room.converge()

    back = await Viewer.join(b.ws_url, room.live.session_id, leaver.token, "attendee", since=since)
    assert back.reasons == ["reset"]  # a number from before the reset: a fresh snapshot
    room.people.append(back)
    await room.converge()
    await room.close()


async def test_a_paused_redis_refuses_live_actions_says_so_once_and_loses_nothing(
    cluster: Cluster,
) -> None:
    room = await scene(cluster)
    a, b = cluster.nodes
    kept = await room.ask(room.people[0], "Asked before the pause?")
    await room.converge()
    said = [(n.logged().count("unreachable"), n.logged().count("reachable again")) for n in (a, b)]

    cluster.redis.pause()
    paused = time.monotonic()
    try:
        await wait_ready(a, b, ready=False)
        status, problem = await readiness(a)
        assert (status, problem["checks"]) == (503, {"database": "ok", "redis": "unreachable"})
        seen = await metrics(b)
        assert seen['festival_dependency_up{dependency="redis"}'] == 0
        assert seen['festival_dependency_up{dependency="database"}'] == 1
        assert seen["festival_live_broker_up"] == 0
        refused = await room.people[1].request("question.ask", {"text": "During the pause?"})
        assert (refused["type"], refused["code"]) == ("error", "unavailable")
        approve = await room.approve(kept)
        assert (approve["type"], approve["code"]) == ("error", "unavailable")
        voted = await room.people[2].request("question.vote", {"question_id": kept, "up": True})
        assert (voted["type"], voted["code"]) == ("error", "unavailable")
        rest = await room.http.post(
            f"/api/v1/sessions/{room.live.session_id}/questions",
            json={"text": "By REST during the pause?"},
            headers={"Authorization": f"Bearer {room.people[0].token}"},
        )
        assert (rest.status_code, rest.json()["code"]) == (503, "unavailable")
        # Longer than the Redis client's socket timeout (5 s): its calls fail, not hang.
        await asyncio.sleep(max(0.0, 6.0 - (time.monotonic() - paused)))
    finally:
        cluster.redis.resume()
    await wait_ready(a, b)

    await room.approve(kept)
    await room.vote_all(kept)
    later = await room.ask(room.people[3], "After the pause?")
    await room.approve(later)
    await room.converge()
    for node, (gone, back) in zip((a, b), said, strict=True):
        log = node.logged()
        assert (log.count("unreachable"), log.count("reachable again")) == (gone + 1, back + 1)
    await room.close()
