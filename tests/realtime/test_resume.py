"""Resume after a disconnect: exactly the missed events, or a snapshot marked as such."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import Backend, LiveServer
from tests.factories.festival import auth
from tests.factories.realtime import Live, live_session
from tests.realtime.clients import LiveClient


async def _no_pre_moderation(server: LiveServer, live: Live) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.patch(
            f"/api/v1/sessions/{live.session_id}/live",
            json={"pre_moderation": False},
            headers=auth(live.organiser_token),
        )
    assert response.status_code == 200


async def test_resume_after_five_questions_and_a_hundred_votes_gets_exactly_what_was_missed(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    await _no_pre_moderation(live_server, live)
    witness = await LiveClient.open(live_server.ws_url, live.session_id, await live.attendee())
    await witness.event("snapshot")
    leaver = await LiveClient.open(live_server.ws_url, live.session_id, await live.attendee())
    await leaver.event("snapshot")
    await leaver.ok("ping")
    await witness.event("presence", lambda d: d["count"] == 2)
    since = leaver.last_seq  # anything sent but unread counts as missed: the witness has it
    await leaver.close()

    askers = [await live.attendee(f"Asker {i}") for i in range(5)]
    voters = [await live.attendee(f"Voter {i}") for i in range(20)]
    gate = asyncio.Semaphore(10)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        base = f"/api/v1/sessions/{live.session_id}/questions"
        qids = []
        for i in range(5):
            made = await http.post(base, json={"text": f"Question {i}?"}, headers=auth(askers[i]))
            assert made.status_code == 201
            qids.append(made.json()["id"])

        async def vote(raw: str, qid: str) -> None:
            async with gate:
                reply = await http.post(f"{base}/{qid}/vote", json={"up": True}, headers=auth(raw))
            assert reply.status_code == 200

        await asyncio.gather(*(vote(raw, qid) for raw in voters for qid in qids))

    final = {qid: 20 for qid in qids}
    seen: dict[str, int] = {}
    for frame in witness.events:
        if frame["type"] == "question.votes":
            seen |= frame["data"]["counts"]
    while seen != final:
        frame = await witness.read()
        if frame.get("type") == "question.votes":
            seen |= frame["data"]["counts"]
    upto = witness.last_seq

    back = await LiveClient.open(live_server.ws_url, live.session_id, voters[0], since=since)
    while back.last_seq < upto:
        await back.read()
    replayed = [e for e in back.events if e["seq"] <= upto]
    missed = [e for e in witness.events if since < e["seq"] <= upto]
    assert [e["seq"] for e in replayed] == list(range(since + 1, upto + 1))
    assert replayed == sorted(missed, key=lambda e: e["seq"])
    assert [e["type"] for e in replayed].count("question.added") == 5
    assert "snapshot" not in [e["type"] for e in back.events]
    for client in (witness, back):
        await client.close()


async def test_resume_from_a_number_no_longer_held_gets_a_snapshot_marked_too_old(
    live_server: LiveServer, backend: Backend
) -> None:
    hub = live_server.app.state.live.hub
    hub.buffer = 4
    hub.broker.buffer = 4
    live = await live_session(backend.engine)
    await _no_pre_moderation(live_server, live)
    raw = await live.attendee()
    client = await LiveClient.open(live_server.ws_url, live.session_id, raw)
    first = (await client.event("snapshot"))["seq"]
    for i in range(3):
        await client.ok("question.ask", {"text": f"Q{i}"})
    await client.close()
    asker = await LiveClient.open(live_server.ws_url, live.session_id, await live.attendee())
    for i in range(3):
        await asker.ok("question.ask", {"text": f"Later {i}"})
    back = await LiveClient.open(live_server.ws_url, live.session_id, raw, since=first + 1)
    snapshot = await back.event("snapshot")
    assert snapshot["data"]["reason"] == "too_old"
    assert len(snapshot["data"]["questions"]) == 6
    assert snapshot["seq"] == snapshot["data"]["seq"]
    future = await LiveClient.open(live_server.ws_url, live.session_id, raw, since=first + 10_000)
    assert (await future.event("snapshot"))["data"]["reason"] == "too_old"
    # A number of an older numbering (another process before this one): below this one's.
    older = await LiveClient.open(live_server.ws_url, live.session_id, raw, since=1)
    assert (await older.event("snapshot"))["data"]["reason"] == "reset"
    for c in (asker, back, future, older):
        await c.close()
