"""Polls over real sockets: every kind, changeable ballots, hidden results, closing."""

from __future__ import annotations

from typing import Any

from tests.conftest import Backend, LiveServer
from tests.factories.realtime import Live, live_session
from tests.realtime.clients import LiveClient


async def _join(server: LiveServer, live: Live, raw: str) -> LiveClient:
    client = await LiveClient.open(server.ws_url, live.session_id, raw)
    await client.event("snapshot")
    return client


async def _open(mod: LiveClient, **spec: Any) -> dict[str, Any]:
    poll: dict[str, Any] = (await mod.ok("poll.create", spec))["poll"]
    assert poll["status"] == "draft"
    await mod.ok("poll.open", {"poll_id": poll["id"]})
    return poll


async def test_single_choice_ballots_change_until_close_and_results_converge(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    mod = await _join(live_server, live, await live.moderator())
    ada = await _join(live_server, live, await live.attendee())
    bo = await _join(live_server, live, await live.attendee())
    poll = await _open(mod, question="Tea or coffee?", kind="single", options=["Tea", "Coffee"])
    opened = await ada.event("poll.opened")
    assert [o["text"] for o in opened["data"]["options"]] == ["Tea", "Coffee"]
    tea, coffee = (o["id"] for o in opened["data"]["options"])

    await ada.ok("poll.vote", {"poll_id": poll["id"], "option_ids": [tea]})
    await bo.ok("poll.vote", {"poll_id": poll["id"], "option_ids": [tea]})
    await bo.ok("poll.vote", {"poll_id": poll["id"], "option_ids": [coffee]})
    two = await ada.request("poll.vote", {"poll_id": poll["id"], "option_ids": [tea, coffee]})
    assert two["code"] == "invalid"

    def counts(data: dict[str, Any]) -> list[int]:
        return [o["count"] for o in data["options"]]

    final = await ada.event("poll.results", lambda d: counts(d) == [1, 1])
    assert final["data"]["total"] == 2

    await mod.ok("poll.close", {"poll_id": poll["id"]})
    await ada.event("poll.closed")
    late = await ada.request("poll.vote", {"poll_id": poll["id"], "option_ids": [tea]})
    assert late["code"] == "poll_not_open"
    reopened = await mod.request("poll.open", {"poll_id": poll["id"]})
    assert reopened["code"] == "conflict"
    for client in (mod, ada, bo):
        await client.close()


async def test_hidden_results_reach_only_the_projector_and_moderators_until_close(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    mod = await _join(live_server, live, await live.moderator())
    screen = await _join(live_server, live, await live.projector())
    ada = await _join(live_server, live, await live.attendee())
    poll = await _open(mod, question="Rate the talk", kind="rating", scale=5, hide_results=True)
    await ada.event("poll.opened")
    await ada.ok("poll.vote", {"poll_id": poll["id"], "rating": 4})
    shown = await screen.event("poll.results")
    assert shown["data"]["histogram"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
    assert shown["data"]["average"] == 4
    assert (await ada.request("poll.vote", {"poll_id": poll["id"], "rating": 9}))[
        "code"
    ] == "invalid"
    await mod.ok("poll.close", {"poll_id": poll["id"]})
    result = await ada.event("poll.results")
    assert result["data"]["total"] == 1
    assert [e["type"] for e in ada.events if e["type"].startswith("poll.")] == [
        "poll.opened",
        "poll.closed",
        "poll.results",
    ]
    for client in (mod, screen, ada):
        await client.close()


async def test_multiple_choice_and_word_cloud_polls(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    mod = await _join(live_server, live, await live.moderator())
    ada = await _join(live_server, live, await live.attendee())
    bo = await _join(live_server, live, await live.attendee())
    many = await _open(
        mod, question="Which?", kind="multiple", options=["A", "B", "C"], max_choices=2
    )
    a, b, c = (o["id"] for o in many["options"])
    await ada.ok("poll.vote", {"poll_id": many["id"], "option_ids": [a, b]})
    too_many = await bo.request("poll.vote", {"poll_id": many["id"], "option_ids": [a, b, c]})
    assert too_many["code"] == "invalid"
    await bo.ok("poll.vote", {"poll_id": many["id"], "option_ids": [b]})
    shown = await ada.event("poll.results", lambda d: d.get("total") == 2)
    assert [o["count"] for o in shown["data"]["options"]] == [1, 2, 0]

    words = await _open(mod, question="One word?", kind="text")
    await ada.ok("poll.vote", {"poll_id": words["id"], "text": "Open data, open source"})
    await bo.ok("poll.vote", {"poll_id": words["id"], "text": "open"})
    cloud = await ada.event(
        "poll.results", lambda d: d["poll_id"] == words["id"] and d["total"] == 2
    )
    assert cloud["data"]["words"] == {"open": 2, "data": 1, "source": 1}
    bad = await bo.request("poll.vote", {"poll_id": words["id"], "option_ids": [a]})
    assert bad["code"] == "invalid"
    assert (await ada.request("poll.create", {"question": "x", "kind": "text"}))[
        "code"
    ] == "forbidden"
    one_option = await mod.request(
        "poll.create", {"question": "x", "kind": "single", "options": ["A"]}
    )
    assert one_option["code"] == "invalid"
    for client in (mod, ada, bo):
        await client.close()
