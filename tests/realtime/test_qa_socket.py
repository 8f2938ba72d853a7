"""Q&A over real sockets against a real uvicorn."""

from __future__ import annotations

from tests.conftest import Backend, LiveServer
from tests.factories.realtime import live_session
from tests.realtime.clients import LiveClient


async def test_question_approved_by_moderator_reaches_attendees(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    asker = await LiveClient.open(live_server.ws_url, live.session_id, await live.attendee("Ada"))
    watcher = await LiveClient.open(live_server.ws_url, live.session_id, await live.attendee("Bo"))
    mod = await LiveClient.open(live_server.ws_url, live.session_id, await live.moderator())
    snap = await asker.read()
    assert snap["type"] == "snapshot"
    assert snap["data"]["questions"] == []
    await watcher.event("snapshot")
    await mod.event("snapshot")

    asked = await asker.ok("question.ask", {"text": "  Why\x00 festivals?  "})
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
    for client in (asker, watcher, mod):
        await client.close()
