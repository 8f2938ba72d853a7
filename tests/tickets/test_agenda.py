"""The personal agenda feed, and attendees told of changes to their sessions."""

from __future__ import annotations

from datetime import timedelta

import httpx
import icalendar
import vobject
from sqlalchemy import select

from tests.conftest import Backend
from tests.factories.festival import auth
from tests.factories.tickets import DAY_ONE, open_festival, programme_session, registered
from tickets.models import OutboxMessage


def _parse(body: bytes) -> dict[str, dict[str, str]]:
    """Events by UID, read by two independent parsers that must agree."""
    calendar = icalendar.Calendar.from_ical(body)
    first = {
        str(e["UID"]): {
            "sequence": str(e.get("SEQUENCE", 0)),
            "start": e.decoded("DTSTART").isoformat(),
            "status": str(e.get("STATUS", "")),
            "description": str(e.get("DESCRIPTION", "")),
        }
        for e in calendar.walk("VEVENT")
    }
    second = vobject.readOne(body.decode())
    assert sorted(v.uid.value for v in second.vevent_list) == sorted(first)
    for event in second.vevent_list:
        assert event.dtstart.value.isoformat() == first[event.uid.value]["start"]
    return first


async def test_agenda_lists_seats_and_favourites_and_follows_a_move(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, organiser = await open_festival(client, backend.engine)
    stream = "https://stream.example.org/live/1"
    workshop = await programme_session(
        backend.engine, made["id"], title="Soil lab", capacity=5, virtual_stream=stream
    )
    keynote = await programme_session(
        backend.engine, made["id"], title="Opening", starts_at=DAY_ONE + timedelta(days=1)
    )
    await programme_session(backend.engine, made["id"], title="Not mine", capacity=5)
    attendee = await registered(client, made["slug"], email="agenda@example.org")
    bystander = await registered(client, made["slug"])
    token = auth(attendee["attendee_token"])
    await client.put(f"/api/v1/me/seats/{workshop}", headers=token)
    await client.put(f"/api/v1/me/favourites/{keynote}", headers=token)
    feed_url = f"/api/v1/me/agenda.ics?token={attendee['feed_token']}"
    before = await client.get(feed_url)
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/calendar")
    events = _parse(before.content)
    assert sorted(events) == sorted([f"{workshop}@festival", f"{keynote}@festival"])
    # The join link is the live page, which hands out the stream to those who may see it.
    assert f"/live/{workshop}" in events[f"{workshop}@festival"]["description"]
    assert stream not in before.text

    moved_start = DAY_ONE + timedelta(hours=3)
    patched = await client.patch(
        f"/api/v1/festivals/{made['slug']}/sessions/{workshop}",
        json={
            "starts_at": moved_start.isoformat(),
            "ends_at": (moved_start + timedelta(minutes=90)).isoformat(),
        },
        headers=auth(organiser),
    )
    assert patched.status_code == 200, patched.text
    after = _parse((await client.get(feed_url)).content)[f"{workshop}@festival"]
    assert int(after["sequence"]) > int(events[f"{workshop}@festival"]["sequence"])
    assert after["start"] != events[f"{workshop}@festival"]["start"]

    cancelled = await client.patch(
        f"/api/v1/festivals/{made['slug']}/sessions/{keynote}",
        json={"status": "cancelled"},
        headers=auth(organiser),
    )
    assert cancelled.status_code == 200, cancelled.text
    final = _parse((await client.get(feed_url)).content)
    assert final[f"{keynote}@festival"]["status"] == "CANCELLED"
    assert int(final[f"{keynote}@festival"]["sequence"]) > int(
        events[f"{keynote}@festival"]["sequence"]
    )

    async with backend.engine.connect() as connection:
        told = (
            await connection.execute(
                select(OutboxMessage.to_address, OutboxMessage.kind).where(
                    OutboxMessage.kind.like("session.%")
                )
            )
        ).all()
    assert sorted(told) == [
        ("agenda@example.org", "session.cancelled"),
        ("agenda@example.org", "session.moved"),
    ]  # the bystander, who holds neither session, is not told
    assert bystander["id"]


async def test_feed_tokens_open_only_the_feed_and_stop_when_revoked(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine)
    attendee = await registered(client, made["slug"])
    token = auth(attendee["attendee_token"])
    url = "/api/v1/me/agenda.ics?token="
    assert (await client.get(url + attendee["feed_token"])).status_code == 200
    assert (await client.get(url + attendee["attendee_token"])).status_code == 403
    assert (await client.get(url + "ff_nope")).status_code == 404
    assert (await client.get("/api/v1/me/agenda.ics")).status_code == 404
    assert (await client.get("/api/v1/me", headers=auth(attendee["feed_token"]))).status_code == 401
    rotated = await client.post("/api/v1/me/feed-token", headers=token)
    assert rotated.status_code == 201
    assert (await client.get(url + attendee["feed_token"])).status_code == 404
    new_feed = rotated.json()["feed_token"]
    assert (await client.get(url + new_feed)).status_code == 200
    assert (await client.delete("/api/v1/me/feed-token", headers=token)).status_code == 204
    assert (await client.get(url + new_feed)).status_code == 404
