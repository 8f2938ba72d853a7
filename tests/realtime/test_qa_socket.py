"""Q&A over real sockets against a real uvicorn: every action, and what each role sees."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select

from realtime.models import ModerationAction
from tests.conftest import Backend, LiveServer
from tests.factories.festival import auth
from tests.factories.realtime import Live, live_session
from tests.realtime.clients import LiveClient


async def _join(server: LiveServer, live: Live, raw: str) -> LiveClient:
    client = await LiveClient.open(server.ws_url, live.session_id, raw)
    await client.event("snapshot")
    return client


async def _pre_moderation(server: LiveServer, live: Live, on: bool) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.patch(
            f"/api/v1/sessions/{live.session_id}/live",
            json={"pre_moderation": on},
            headers=auth(live.organiser_token),
        )
    assert response.status_code == 200, response.text


async def test_question_approved_by_moderator_reaches_attendees(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    asker = await _join(live_server, live, await live.attendee("Ada"))
    watcher = await _join(live_server, live, await live.attendee("Bo"))
    mod = await _join(live_server, live, await live.moderator())

    asked = await asker.ok("question.ask", {"text": "  Why\x00 festivals?\n  "})
    qid = asked["question"]["id"]
    assert asked["question"]["text"] == "Why festivals?"
    assert asked["question"]["status"] == "pending"
    queued = await mod.event("question.added")
    assert queued["data"]["id"] == qid

    await mod.ok("question.moderate", {"question_id": qid, "action": "approve"})
    shown = await watcher.event("question.updated")
    assert shown["data"]["id"] == qid
    assert shown["data"]["status"] == "approved"
    assert shown["data"]["author"] == "Ada"
    assert [e["type"] for e in watcher.events if e["type"] != "presence"] == [
        "snapshot",
        "question.updated",
    ]
    for client in (asker, watcher, mod):
        await client.close()


async def test_without_pre_moderation_questions_show_at_once_and_votes_count_once(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    await _pre_moderation(live_server, live, False)
    ada = await _join(live_server, live, await live.attendee("Ada"))
    bo = await _join(live_server, live, await live.attendee("Bo"))
    qid = (await ada.ok("question.ask", {"text": "First?"}))["question"]["id"]
    added = await bo.event("question.added")
    assert added["data"]["status"] == "approved"

    assert (await bo.ok("question.vote", {"question_id": qid, "up": True}))["votes"] == 1
    assert (await bo.ok("question.vote", {"question_id": qid, "up": True}))["votes"] == 1
    assert (await ada.ok("question.vote", {"question_id": qid}))["votes"] == 2
    await ada.event("question.votes", lambda d: d["counts"].get(qid) == 2)
    assert (await bo.ok("question.vote", {"question_id": qid, "up": False}))["votes"] == 1
    assert (await bo.ok("question.vote", {"question_id": qid, "up": False}))["votes"] == 1
    await ada.event("question.votes", lambda d: d["counts"].get(qid) == 1)
    for client in (ada, bo):
        await client.close()


async def test_every_moderation_action_is_broadcast_and_audited(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    ada = await _join(live_server, live, await live.attendee("Ada"))
    mod = await _join(live_server, live, await live.moderator())
    first = (await ada.ok("question.ask", {"text": "One?"}))["question"]["id"]
    second = (await ada.ok("question.ask", {"text": "Two?"}))["question"]["id"]

    async def act(qid: str, action: str, **extra: Any) -> dict[str, Any]:
        return (await mod.ok("question.moderate", {"question_id": qid, "action": action, **extra}))[
            "question"
        ]

    assert (await act(first, "approve"))["status"] == "approved"
    assert (await act(first, "highlight"))["highlighted"] is True
    assert (await act(second, "highlight"))["highlighted"] is True
    unlit = await ada.event("question.updated", lambda d: d["id"] == first and not d["highlighted"])
    assert unlit["data"]["status"] == "approved"
    assert (await act(second, "answer")) | {"rev": 0} == (await act(second, "reopen")) | {
        "status": "answered",
        "rev": 0,
        "highlighted": False,
    }
    assert (await act(first, "edit", text=" One, edited? "))["text"] == "One, edited?"
    dismissed = await act(first, "dismiss")
    assert dismissed["status"] == "dismissed"
    assert dismissed["highlighted"] is False
    gone = await ada.event("question.updated", lambda d: d["status"] == "dismissed")
    assert "moderator" not in json.dumps(gone).lower()

    async with backend.engine.connect() as connection:
        trail = (
            (
                await connection.execute(
                    select(ModerationAction.action).order_by(ModerationAction.at)
                )
            )
            .scalars()
            .all()
        )
    assert trail == [
        "approve",
        "highlight",
        "unhighlight",
        "highlight",
        "answer",
        "reopen",
        "edit",
        "dismiss",
    ]
    for client in (ada, mod):
        await client.close()


async def test_anonymous_askers_are_never_shown_to_anyone(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    await _pre_moderation(live_server, live, False)
    secret = "Zebulon Quartermaine"
    asker = await _join(live_server, live, await live.attendee(secret))
    watcher = await _join(live_server, live, await live.attendee("Bo"))
    mod = await _join(live_server, live, await live.moderator())
    asked = await asker.ok("question.ask", {"text": "Who funds this?", "anonymous": True})
    qid = asked["question"]["id"]
    await watcher.ok("question.ask", {"text": "And named?", "anonymous": False})
    await watcher.ok("question.vote", {"question_id": qid})
    await mod.ok("question.moderate", {"question_id": qid, "action": "highlight"})
    await watcher.event("question.updated")
    await watcher.event("question.votes")
    late = await _join(live_server, live, await live.attendee("Cy"))
    seen: list[str] = [json.dumps(c.events) + json.dumps(c.replies) for c in (watcher, mod, late)]
    seen.append(json.dumps(asked))
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        base = f"/api/v1/sessions/{live.session_id}"
        for path, raw in [
            ("/questions", await live.attendee()),
            ("/questions?sort=time", await live.moderator()),
            ("/questions.csv", await live.moderator()),
        ]:
            response = await http.get(base + path, headers=auth(raw))
            assert response.status_code == 200
            seen.append(response.text)
    assert all(secret not in text for text in seen)
    assert all("Who funds this?" in text for text in seen)
    shown = {q["text"]: q["author"] for q in (await late.event("snapshot"))["data"]["questions"]}
    assert shown == {"Who funds this?": None, "And named?": "Bo"}
    for client in (asker, watcher, mod, late):
        await client.close()


async def test_bad_input_gets_error_frames_and_the_connection_stays_up(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    ada = await _join(live_server, live, await live.attendee())
    other = await _join(live_server, live, await live.attendee())
    await ada.ws.send("{oops")
    assert (await ada.until(lambda f: f.get("type") == "error"))["code"] == "bad_json"
    cases = [
        ("question.ask", {"text": "   "}, "invalid"),
        ("question.ask", {"text": "x" * 501}, "invalid"),
        (
            "question.vote",
            {"question_id": "00000000-0000-0000-0000-000000000000"},
            "question_not_found",
        ),
        (
            "question.moderate",
            {"question_id": "00000000-0000-0000-0000-000000000000", "action": "approve"},
            "forbidden",
        ),
        (
            "poll.vote",
            {"poll_id": "00000000-0000-0000-0000-000000000000", "rating": 3},
            "poll_not_found",
        ),
        ("question.fly", {}, "unknown_type"),
        ("question.ask", {"txt": "typo"}, "invalid"),
    ]
    for kind, data, code in cases:
        reply = await ada.request(kind, data)
        assert (reply["type"], reply["code"]) == ("error", code), (kind, reply)
    await ada.ws.send(
        json.dumps({"type": "question.ask", "id": "big", "data": {"text": "y" * 6000}})
    )
    assert (await ada.until(lambda f: f.get("id") == "big"))["code"] == "too_large"
    assert (await ada.request("ping"))["type"] == "ack"
    assert (await other.request("ping"))["type"] == "ack"
    assert [e["type"] for e in other.events if e["type"] != "presence"] == ["snapshot"]
    for client in (ada, other):
        await client.close()


async def test_a_flood_of_questions_is_limited_and_repeated_abuse_closes_the_socket(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    ada = await _join(live_server, live, await live.attendee())
    codes = [(await ada.request("question.ask", {"text": f"q{i}"})).get("code") for i in range(5)]
    assert codes == [None, None, None, "rate_limited", "rate_limited"]
    for _ in range(30):
        await ada.ws.send("garbage")
    errors = sum(f.get("code") == "bad_json" for f in await ada.drain())
    assert ada.ws.close_code == 1008
    assert errors == 18  # the two rate-limit refusals above were strikes too: 20 in all
