"""REST mirrors, projector links and CSV exports, with a socket on the ASGI path watching."""

from __future__ import annotations

import csv
import io
import uuid

import httpx
from fastapi import FastAPI

from tests.conftest import Backend, count_queries
from tests.factories.festival import auth
from tests.factories.realtime import live_session
from tests.realtime.asgi import AsgiSocket


async def _socket(app: FastAPI, session_id: uuid.UUID, raw: str) -> AsgiSocket:
    socket = AsgiSocket(app, f"/ws/sessions/{session_id}", f"token={raw}")
    assert (await socket.connect())["type"] == "websocket.accept"
    assert (await socket.frame())["type"] == "snapshot"
    return socket


async def test_asgi_socket_is_denied_with_a_problem_before_accept(
    app: FastAPI, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    socket = AsgiSocket(app, f"/ws/sessions/{live.session_id}", "token=fa_nope")
    start = await socket.connect()
    assert start["type"] == "websocket.http.response.start"
    assert start["status"] == 401
    body = await socket.message()
    assert b"unauthorized" in body["body"]


async def test_rest_questions_go_through_the_same_domain_and_reach_sockets(
    app: FastAPI, client: httpx.AsyncClient, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    base = f"/api/v1/sessions/{live.session_id}"
    mod, ada, bo = await live.moderator(), await live.attendee("Ada"), await live.attendee("Bo")
    watcher = await _socket(app, live.session_id, bo)

    asked = await client.post(
        f"{base}/questions",
        json={"text": "Over REST?"},
        headers=auth(ada) | {"Idempotency-Key": "k1"},
    )
    assert asked.status_code == 201
    again = await client.post(
        f"{base}/questions",
        json={"text": "Over REST?"},
        headers=auth(ada) | {"Idempotency-Key": "k1"},
    )
    assert again.json() == asked.json()
    qid = asked.json()["id"]
    hidden = await client.get(f"{base}/questions", headers=auth(bo))
    assert hidden.json()["items"] == []
    queue = await client.get(f"{base}/questions?sort=time", headers=auth(mod))
    assert [q["id"] for q in queue.json()["items"]] == [qid]

    forbidden = await client.patch(
        f"{base}/questions/{qid}", json={"action": "approve"}, headers=auth(ada)
    )
    assert forbidden.status_code == 403
    approved = await client.patch(
        f"{base}/questions/{qid}", json={"action": "approve"}, headers=auth(mod)
    )
    assert approved.json()["status"] == "approved"
    shown = await watcher.until("question.updated")
    assert shown["data"]["id"] == qid

    voted = await client.post(f"{base}/questions/{qid}/vote", json={"up": True}, headers=auth(bo))
    assert voted.json() == {"question_id": qid, "votes": 1, "up": True}
    counts = await watcher.until("question.votes")
    assert counts["data"]["counts"] == {qid: 1}
    unknown = await client.post(f"{base}/questions/{uuid.uuid4()}/vote", json={}, headers=auth(bo))
    assert unknown.status_code == 404
    edited = await client.patch(
        f"{base}/questions/{qid}", json={"text": "Edited"}, headers=auth(mod)
    )
    assert edited.json()["text"] == "Edited"
    empty = await client.patch(f"{base}/questions/{qid}", json={}, headers=auth(mod))
    assert empty.status_code == 422
    await watcher.close()


async def test_rest_polls_results_and_csv_exports(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    base = f"/api/v1/sessions/{live.session_id}"
    mod, ada = await live.moderator(), await live.attendee("Ada")
    made = await client.post(
        f"{base}/polls",
        json={"question": "=Best?", "kind": "single", "options": ["A", "B"], "hide_results": True},
        headers=auth(mod),
    )
    assert made.status_code == 201
    poll = made.json()
    assert (await client.get(f"{base}/polls", headers=auth(ada))).json()["items"] == []
    assert (
        await client.post(f"{base}/polls/{poll['id']}/open", headers=auth(ada))
    ).status_code == 403
    opened = await client.post(f"{base}/polls/{poll['id']}/open", headers=auth(mod))
    assert opened.json()["status"] == "open"
    ballot = {"option_ids": [poll["options"][1]["id"]]}
    cast = await client.post(f"{base}/polls/{poll['id']}/votes", json=ballot, headers=auth(ada))
    assert cast.status_code == 200
    hidden = await client.get(f"{base}/polls/{poll['id']}/results", headers=auth(ada))
    assert hidden.status_code == 403
    seen = await client.get(f"{base}/polls/{poll['id']}/results", headers=auth(mod))
    assert [o["count"] for o in seen.json()["options"]] == [0, 1]

    exported = await client.get(f"{base}/polls.csv", headers=auth(mod))
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["question"], r["answer"], r["count"]) for r in rows] == [
        ("'=Best?", "A", "0"),
        ("'=Best?", "B", "1"),
    ]
    await client.post(
        f"{base}/questions", json={"text": "Anon?", "anonymous": True}, headers=auth(ada)
    )
    questions = await client.get(f"{base}/questions.csv", headers=auth(mod))
    rows = list(csv.DictReader(io.StringIO(questions.text)))
    assert [(r["text"], r["author"], r["status"]) for r in rows] == [("Anon?", "", "pending")]
    assert (await client.get(f"{base}/questions.csv", headers=auth(ada))).status_code == 403


async def test_projector_links_are_for_moderators_and_join_read_only(
    app: FastAPI, client: httpx.AsyncClient, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    base = f"/api/v1/sessions/{live.session_id}"
    refused = await client.post(f"{base}/projector-links", headers=auth(await live.attendee()))
    assert refused.status_code == 403
    link = await client.post(f"{base}/projector-links", headers=auth(await live.moderator()))
    assert link.status_code == 201
    body = link.json()
    assert body["url"] == f"http://testserver/present/{live.session_id}?token={body['token']}"
    screen = await _socket(app, live.session_id, body["token"])
    await screen.send("question.ask", {"text": "May I?"})
    refusal = await screen.frame()
    assert (refusal["type"], refusal["code"], refusal["id"]) == ("error", "forbidden", "x1")
    await screen.close()
    other = await live_session(backend.engine)
    elsewhere = AsgiSocket(app, f"/ws/sessions/{other.session_id}", f"token={body['token']}")
    assert (await elsewhere.connect())["status"] == 403


async def test_listing_polls_and_questions_takes_the_same_queries_for_one_or_many(
    app: FastAPI, client: httpx.AsyncClient, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    base = f"/api/v1/sessions/{live.session_id}"
    mod, ada = auth(await live.moderator()), auth(await live.attendee())
    specs = [
        {"question": "One?", "kind": "single", "options": ["A", "B"]},
        {"question": "Rate", "kind": "rating"},
        {"question": "Words", "kind": "text"},
    ]

    async def add(round_: int) -> None:
        for spec in specs:
            made = (await client.post(f"{base}/polls", json=spec, headers=mod)).json()
            await client.post(f"{base}/polls/{made['id']}/open", headers=mod)
        text = {"text": f"Question {round_}?"}
        asker = auth(await live.attendee())
        assert (await client.post(f"{base}/questions", json=text, headers=asker)).status_code == 201

    async def queries() -> tuple[int, int]:
        """The queries one listing takes: the fewest of three tries, since the engine
        also counts what a background task (the outbox sender) runs meanwhile."""
        counts = []
        for path in ("/polls", "/questions"):
            tries = []
            for _ in range(3):
                with count_queries(app.state.engine) as counter:
                    assert (await client.get(base + path, headers=ada)).status_code == 200
                tries.append(counter.count)
            counts.append(min(tries))
        return counts[0], counts[1]

    await add(0)
    few = await queries()
    for i in range(1, 4):
        await add(i)
    assert await queries() == few


async def test_rest_questions_and_votes_share_the_attendees_rate_limits(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    base = f"/api/v1/sessions/{live.session_id}/questions"
    ada = auth(await live.attendee())
    codes = [
        (await client.post(base, json={"text": f"Q{i}?"}, headers=ada)).status_code
        for i in range(4)
    ]
    assert codes == [201, 201, 201, 429]
