"""The stage: a session's stream goes to its participants, from 15 minutes before it
starts, and the programme says what is on now, with how many are in each live room."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Backend, count_queries
from tests.factories import schedule as sf
from tests.factories import tickets as tf
from tests.factories.festival import auth
from tests.realtime.asgi import AsgiSocket

API = "/api/v1"
YOUTUBE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
OWN_STREAM = "https://stream.example.org/soon?room=7"


def _at(minutes: int) -> str:
    """Now plus ``minutes``, to the minute, as the API takes times."""
    moment = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=minutes)
    return moment.isoformat()


@dataclass
class Stage:
    slug: str
    organiser: str
    on_now: dict[str, Any]  # in the online room (a YouTube link), live Q&A on
    soon: dict[str, Any]  # its own stream, starts in an hour
    hall: dict[str, Any]  # no stream, starts with "soon"
    online: dict[str, Any]  # the virtual room
    attendee: dict[str, Any]  # confirmed
    waiting: dict[str, Any]  # waitlisted (capacity 1)


@pytest.fixture
async def stage(client: httpx.AsyncClient, backend: Backend) -> Stage:
    made, organiser = await tf.open_festival(client, backend.engine, capacity=1, **tf.running_now())
    slug = made["slug"]
    online = await sf.room(client, organiser, slug, kind="virtual", stream_url=YOUTUBE)
    hall = await sf.room(client, organiser, slug, name="Hall")
    on_now = await sf.session(
        client, organiser, slug, _at(-10), _at(50), title="On now", room_id=online["id"]
    )
    await client.patch(
        f"{sf.base(slug)}/sessions/{on_now['id']}", json={"live_qa": True}, headers=auth(organiser)
    )
    soon = await sf.session(
        client, organiser, slug, _at(60), _at(120), title="Soon", stream_url=OWN_STREAM
    )
    in_hall = await sf.session(
        client, organiser, slug, _at(60), _at(90), title="In the hall", room_id=hall["id"]
    )
    attendee = await tf.registered(client, slug)
    waiting = await tf.registered(client, slug)
    assert (attendee["status"], waiting["status"]) == ("confirmed", "waitlisted")
    return Stage(slug, organiser, on_now, soon, in_hall, online, attendee, waiting)


async def _join(client: httpx.AsyncClient, session: dict[str, Any], token: str | None) -> Any:
    headers = auth(token) if token else {}
    return await client.get(f"{API}/sessions/{session['id']}/join", headers=headers)


async def test_an_attendee_gets_the_stream_and_its_player_once_it_opens(
    client: httpx.AsyncClient, stage: Stage
) -> None:
    reply = await _join(client, stage.on_now, stage.attendee["attendee_token"])
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert {k: body[k] for k in ("url", "embed_url", "provider")} == {
        "url": YOUTUBE,
        "embed_url": "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        "provider": "youtube",
    }
    starts = datetime.fromisoformat(stage.on_now["starts_at"])
    assert datetime.fromisoformat(body["opens_at"]) == starts - timedelta(minutes=15)


async def test_join_is_refused_before_it_opens_naming_the_time(
    client: httpx.AsyncClient, stage: Stage
) -> None:
    early = await _join(client, stage.soon, stage.attendee["attendee_token"])
    assert early.status_code == 409, early.text
    problem = early.json()
    opens_at = datetime.fromisoformat(stage.soon["starts_at"]) - timedelta(minutes=15)
    assert (problem["code"], datetime.fromisoformat(problem["opens_at"])) == (
        "join_not_open",
        opens_at,
    )
    assert f"{datetime.fromisoformat(problem['opens_at']):%H:%M}" in problem["detail"]
    assert OWN_STREAM not in early.text
    # Those who run the session test the link whenever they like.
    moderator = await tf.staff_token(client, stage.organiser, stage.slug, "moderator")
    for token in (moderator, stage.organiser):
        reply = await _join(client, stage.soon, token)
        assert reply.status_code == 200, reply.text
        assert reply.json() | {"opens_at": None} == {
            "url": OWN_STREAM,
            "embed_url": None,
            "provider": None,
            "opens_at": None,
        }


async def test_join_is_refused_to_strangers_other_festivals_and_the_waiting_list(
    client: httpx.AsyncClient, backend: Backend, stage: Stage
) -> None:
    other, other_organiser = await tf.open_festival(client, backend.engine, **tf.running_now())
    neighbour = await tf.registered(client, other["slug"])
    refusals = {
        "anonymous": await _join(client, stage.on_now, None),
        "garbage": await _join(client, stage.on_now, "fa_" + "x" * 43),
        "another festival's attendee": await _join(
            client, stage.on_now, neighbour["attendee_token"]
        ),
        "another festival's organiser": await _join(client, stage.on_now, other_organiser),
        "waitlisted": await _join(client, stage.on_now, stage.waiting["attendee_token"]),
    }
    assert {who: r.status_code for who, r in refusals.items()} == {
        "anonymous": 401,
        "garbage": 401,
        "another festival's attendee": 403,
        "another festival's organiser": 403,
        "waitlisted": 403,
    }
    assert all(YOUTUBE not in r.text for r in refusals.values())
    assert refusals["waitlisted"].json()["code"] == "not_a_participant"

    let_in = await client.patch(
        f"{API}/festivals/{stage.slug}",
        json={"waitlisted_live": True},
        headers=auth(stage.organiser),
    )
    assert let_in.status_code == 200, let_in.text
    waiting = await _join(client, stage.on_now, stage.waiting["attendee_token"])
    assert waiting.status_code == 200
    assert waiting.json()["url"] == YOUTUBE

    cancelled = await client.delete(
        f"{API}/me/registration", headers=auth(stage.attendee["attendee_token"])
    )
    assert cancelled.status_code in (200, 204)
    gone = await _join(client, stage.on_now, stage.attendee["attendee_token"])
    assert gone.status_code == 401


async def test_a_session_without_a_stream_or_cancelled_has_nothing_to_join(
    client: httpx.AsyncClient, stage: Stage
) -> None:
    token = stage.attendee["attendee_token"]
    hall = await _join(client, stage.hall, token)
    assert (hall.status_code, hall.json()["code"]) == (404, "no_stream")
    await client.patch(
        f"{sf.base(stage.slug)}/sessions/{stage.on_now['id']}",
        json={"status": "cancelled"},
        headers=auth(stage.organiser),
    )
    cancelled = await _join(client, stage.on_now, token)
    assert (cancelled.status_code, cancelled.json()["code"]) == (409, "session_cancelled")


async def test_now_shows_what_is_on_and_next_with_the_people_in_each_live_room(
    app: FastAPI, client: httpx.AsyncClient, stage: Stage
) -> None:
    socket = AsgiSocket(
        app, f"/ws/sessions/{stage.on_now['id']}", f"token={stage.attendee['attendee_token']}"
    )
    assert (await socket.connect())["type"] == "websocket.accept"
    assert (await socket.frame())["type"] == "snapshot"
    try:
        with count_queries(app.state.engine) as counter:
            reply = await client.get(f"{API}/festivals/{stage.slug}/now")
    finally:
        await socket.close()
    assert reply.status_code == 200, reply.text
    board = reply.json()

    def shown(items: list[dict[str, Any]]) -> list[tuple[str, int, str | None]]:
        return [(i["title"], i["presence"], i["join_url"]) for i in items]

    live = f"http://testserver/live/{stage.on_now['id']}"
    assert shown(board["now"]) == [("On now", 1, live)]
    assert sorted(shown(board["next"])) == [
        ("In the hall", 0, None),
        ("Soon", 0, f"http://testserver/live/{stage.soon['id']}"),
    ]
    assert board["now"][0]["room"] == {
        "id": stage.online["id"],
        "name": stage.online["name"],
        "kind": "virtual",
    }
    assert YOUTUBE not in reply.text
    assert OWN_STREAM not in reply.text
    # The token, the festival, the sessions (room and track joined), their speakers: not one
    # per session. (The outbox sender, mailing the attendees' letters, runs beside it.)
    reads = [s for s in counter.statements if "outbox" not in s]
    assert len(reads) <= 4, reads


async def test_a_public_export_imported_back_keeps_the_stream_urls(
    client: httpx.AsyncClient, stage: Stage
) -> None:
    """Readers' schedule.json and programme.csv carry join_url: an organiser who imports
    one of them (downloaded without a token) must not lose the streams they set."""
    base, owner = sf.base(stage.slug), auth(stage.organiser)
    for name, media in (("schedule.json", "application/json"), ("programme.csv", "text/csv")):
        public = await client.get(f"{base}/{name}")
        assert "/live/" in public.text
        assert YOUTUBE not in public.text
        assert OWN_STREAM not in public.text
        imported = await client.post(
            f"{base}/programme/import",
            content=public.content,
            headers={**owner, "Content-Type": media},
        )
        assert imported.status_code == 200, (name, imported.text)
    session = await client.get(f"{base}/sessions/{stage.soon['id']}", headers=owner)
    room = await client.get(f"{base}/rooms/{stage.online['id']}", headers=owner)
    assert (session.json()["stream_url"], room.json()["stream_url"]) == (OWN_STREAM, YOUTUBE)
