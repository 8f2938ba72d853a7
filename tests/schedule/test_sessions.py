"""Sessions: create, read, list, change, delete; validation, clashes and time zones."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Backend
from tests.factories import festival as ff
from tests.factories import schedule as sf
from tests.factories.festival import auth


async def _setup(client: httpx.AsyncClient, backend: Backend, **fest: Any) -> tuple[str, str]:
    _, token = await sf.organiser(backend.engine)
    made = await ff.festival(client, token, publish=False, **fest)
    return token, made["slug"]


async def test_session_is_created_and_read_back_in_the_festival_zone(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend)
    track = await sf.track(client, token, slug, name="Digital Journey", colour="#aa3300")
    room = await sf.room(
        client,
        token,
        slug,
        name="Main stage",
        kind="virtual",
        stream_url="https://stream.example.org/main",
    )
    speaker = await sf.speaker(client, token, slug, name="Ada", email="ada@example.org")
    made = await sf.session(
        client,
        token,
        slug,
        "2030-10-08T07:00:00Z",
        "2030-10-08T08:00:00Z",
        title="Opening keynote",
        format="keynote",
        track_id=track["id"],
        room_id=room["id"],
        speaker_ids=[speaker["id"]],
        live_qa=True,
        capacity=50,
        language="en",
    )
    assert made["starts_at"] == "2030-10-08T09:00:00+02:00"
    assert made["ends_at"] == "2030-10-08T10:00:00+02:00"
    got = (await client.get(f"{sf.base(slug)}/sessions/{made['id']}", headers=auth(token))).json()
    assert got == made
    assert got["speaker_ids"] == [speaker["id"]]
    assert got["status"] == "scheduled"
    assert set(got) >= {
        "id",
        "title",
        "abstract",
        "format",
        "track_id",
        "room_id",
        "starts_at",
        "ends_at",
        "speaker_ids",
        "capacity",
        "live_qa",
        "language",
        "stream_url",
        "status",
    }


async def test_room_double_booking_is_409_naming_the_clashing_session(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend)
    room = await sf.room(client, token, slug)
    first = await sf.session(
        client,
        token,
        slug,
        "2030-10-08T08:00:00Z",
        "2030-10-08T09:00:00Z",
        title="First",
        room_id=room["id"],
    )
    response = await client.post(
        f"{sf.base(slug)}/sessions",
        headers=auth(token),
        json=sf.session_body("2030-10-08T08:30:00Z", "2030-10-08T09:30:00Z", room_id=room["id"]),
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "schedule_clash"
    assert problem["clashing_session"]["id"] == first["id"]
    assert problem["clashing_session"]["title"] == "First"
    assert problem["clashing_session"]["starts_at"] == "2030-10-08T10:00:00+02:00"
    assert problem["errors"][0]["field"] == "room_id"
    back_to_back = await client.post(
        f"{sf.base(slug)}/sessions",
        headers=auth(token),
        json=sf.session_body("2030-10-08T09:00:00Z", "2030-10-08T10:00:00Z", room_id=room["id"]),
    )
    assert back_to_back.status_code == 201


async def test_speaker_in_two_sessions_at_once_is_409_and_cancelled_sessions_do_not_clash(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend)
    ada = await sf.speaker(client, token, slug, name="Ada")
    first = await sf.session(
        client,
        token,
        slug,
        "2030-10-08T08:00:00Z",
        "2030-10-08T09:00:00Z",
        title="Ada's talk",
        speaker_ids=[ada["id"]],
    )
    body = sf.session_body("2030-10-08T08:45:00Z", "2030-10-08T09:15:00Z", speaker_ids=[ada["id"]])
    clash = await client.post(f"{sf.base(slug)}/sessions", headers=auth(token), json=body)
    assert clash.status_code == 409
    assert clash.json()["clashing_session"]["id"] == first["id"]
    assert clash.json()["errors"][0]["field"] == "speaker_ids"
    cancelled = await client.patch(
        f"{sf.base(slug)}/sessions/{first['id']}", headers=auth(token), json={"status": "cancelled"}
    )
    assert cancelled.status_code == 200
    assert (
        await client.post(f"{sf.base(slug)}/sessions", headers=auth(token), json=body)
    ).status_code == 201


async def test_speaker_clash_names_the_clashing_speaker_by_name_not_by_id(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend)
    ada = await sf.speaker(client, token, slug, name="Ada Lovelace")
    bo = await sf.speaker(client, token, slug, name="Bo Chen")
    await sf.session(
        client,
        token,
        slug,
        "2030-10-08T08:00:00Z",
        "2030-10-08T09:00:00Z",
        title="Opening",
        speaker_ids=[ada["id"]],
    )
    body = sf.session_body(
        "2030-10-08T08:30:00Z", "2030-10-08T09:30:00Z", speaker_ids=[bo["id"], ada["id"]]
    )
    clash = await client.post(f"{sf.base(slug)}/sessions", headers=auth(token), json=body)
    assert clash.status_code == 409
    problem = clash.json()
    assert problem["detail"] == "Ada Lovelace is in 'Opening' at that time"
    assert ada["id"] not in clash.text
    assert bo["id"] not in clash.text


async def test_moving_a_session_onto_another_is_409_and_changes_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend)
    room = await sf.room(client, token, slug)
    await sf.session(
        client, token, slug, "2030-10-08T08:00:00Z", "2030-10-08T09:00:00Z", room_id=room["id"]
    )
    later = await sf.session(
        client, token, slug, "2030-10-08T10:00:00Z", "2030-10-08T11:00:00Z", room_id=room["id"]
    )
    moved = await client.patch(
        f"{sf.base(slug)}/sessions/{later['id']}",
        headers=auth(token),
        json={"starts_at": "2030-10-08T08:30:00Z", "ends_at": "2030-10-08T09:30:00Z"},
    )
    assert moved.status_code == 409
    again = await client.get(f"{sf.base(slug)}/sessions/{later['id']}", headers=auth(token))
    assert again.json() == later


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "field"),
    [
        ("2030-10-07T21:59:00Z", "2030-10-07T23:00:00Z", "starts_at"),  # 23:59 the day before
        ("2030-10-09T21:30:00Z", "2030-10-09T22:30:00Z", "ends_at"),  # runs past midnight local
    ],
)
async def test_session_outside_the_festival_dates_in_its_zone_is_409(
    client: httpx.AsyncClient, backend: Backend, starts_at: str, ends_at: str, field: str
) -> None:
    token, slug = await _setup(client, backend)
    response = await client.post(
        f"{sf.base(slug)}/sessions", headers=auth(token), json=sf.session_body(starts_at, ends_at)
    )
    assert response.status_code == 409
    assert response.json()["code"] == "outside_festival"
    assert response.json()["errors"][0]["field"] == field
    assert response.json()["festival_starts_at"] == "2030-10-08T00:00:00+02:00"
    inside = await client.post(
        f"{sf.base(slug)}/sessions",
        headers=auth(token),
        json=sf.session_body("2030-10-07T22:00:00Z", "2030-10-09T21:59:00Z"),
    )
    assert inside.status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"starts_at": "2030-10-08T10:00:00+02:00", "ends_at": "2030-10-08T09:00:00+02:00"},
            "ends_at",
        ),
        ({"starts_at": "2030-10-08 10:00", "ends_at": "2030-10-08T11:00:00+02:00"}, "starts_at"),
        ({"starts_at": "tomorrow", "ends_at": "2030-10-08T11:00:00+02:00"}, "starts_at"),
        ({"track_id": "00000000-0000-0000-0000-000000000001"}, "track_id"),
        ({"room_id": "00000000-0000-0000-0000-000000000001"}, "room_id"),
        ({"speaker_ids": ["00000000-0000-0000-0000-000000000001"]}, "speaker_ids"),
        ({"format": "concert"}, "format"),
        ({"capacity": -1}, "capacity"),
        ({"stream_url": "javascript:alert(1)"}, "stream_url"),
        ({"surprise": True}, "surprise"),
    ],
)
async def test_bad_session_input_is_422_naming_the_field_and_writes_nothing(
    client: httpx.AsyncClient, backend: Backend, change: dict[str, Any], field: str
) -> None:
    token, slug = await _setup(client, backend)
    body = sf.session_body("2030-10-08T08:00:00Z", "2030-10-08T09:00:00Z") | change
    response = await client.post(f"{sf.base(slug)}/sessions", headers=auth(token), json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    listed = await client.get(f"{sf.base(slug)}/sessions", headers=auth(token))
    assert listed.json()["items"] == []


async def test_a_track_of_another_festival_is_refused(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend)
    other = await ff.festival(client, token, publish=False)
    foreign = await sf.track(client, token, other["slug"])
    response = await client.post(
        f"{sf.base(slug)}/sessions",
        headers=auth(token),
        json=sf.session_body(
            "2030-10-08T08:00:00Z", "2030-10-08T09:00:00Z", track_id=foreign["id"]
        ),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "track_id"


async def test_patch_applies_only_set_fields_and_refuses_null_title(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend)
    made = await sf.session(
        client,
        token,
        slug,
        "2030-10-08T08:00:00Z",
        "2030-10-08T09:00:00Z",
        title="Kept",
        abstract="Old",
        capacity=20,
    )
    changed = await client.patch(
        f"{sf.base(slug)}/sessions/{made['id']}", headers=auth(token), json={"abstract": "New"}
    )
    assert changed.json() == made | {"abstract": "New"}
    null = await client.patch(
        f"{sf.base(slug)}/sessions/{made['id']}", headers=auth(token), json={"title": None}
    )
    assert null.status_code == 422
    assert null.json()["errors"][0]["field"] == "title"


async def test_draft_programme_is_seen_only_by_its_organisers(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend)
    await sf.speaker(client, token, slug, name="Ada", email="ada@example.org")
    await sf.session(client, token, slug, "2030-10-08T08:00:00Z", "2030-10-08T09:00:00Z")
    _, stranger = await sf.organiser(backend.engine)
    for path in ("sessions", "speakers", "rooms", "tracks", "programme", "changes"):
        assert (await client.get(f"{sf.base(slug)}/{path}")).status_code == 404, path
        assert (
            await client.get(f"{sf.base(slug)}/{path}", headers=auth(stranger))
        ).status_code == 404
        assert (await client.get(f"{sf.base(slug)}/{path}", headers=auth(token))).status_code == 200
    writes = await client.post(
        f"{sf.base(slug)}/tracks", headers=auth(stranger), json={"name": "x"}
    )
    assert writes.status_code == 404


async def test_published_programme_is_public_without_speaker_emails(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend)
    await sf.speaker(client, token, slug, name="Ada", email="ada@example.org")
    await client.post(f"/api/v1/festivals/{slug}/publish", headers=auth(token))
    public = (await client.get(f"{sf.base(slug)}/speakers")).json()["items"]
    assert public == [{"id": public[0]["id"], "name": "Ada", "bio": None, "organisation": None}]
    own = (await client.get(f"{sf.base(slug)}/speakers", headers=auth(token))).json()["items"]
    assert own[0]["email"] == "ada@example.org"
    one = await client.get(f"{sf.base(slug)}/speakers/{public[0]['id']}")
    assert "email" not in one.json()


async def test_sessions_list_paginates_and_filters_by_local_day_track_and_room(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend)
    track = await sf.track(client, token, slug)
    room = await sf.room(client, token, slug)
    # 23:30 local on the 8th is 21:30 UTC: it belongs to the 8th in the festival's zone.
    late = await sf.session(
        client, token, slug, "2030-10-08T21:30:00Z", "2030-10-08T21:50:00Z", track_id=track["id"]
    )
    ids = [late["id"]]
    for hour in (7, 8, 9):
        made = await sf.session(
            client,
            token,
            slug,
            f"2030-10-09T{hour:02d}:00:00Z",
            f"2030-10-09T{hour:02d}:30:00Z",
            room_id=room["id"],
        )
        ids.append(made["id"])
    seen, cursor = [], None
    while True:
        page = (
            await client.get(
                f"{sf.base(slug)}/sessions",
                headers=auth(token),
                params={"limit": 3, **({"cursor": cursor} if cursor else {})},
            )
        ).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    day = await client.get(f"{sf.base(slug)}/sessions?day=2030-10-08", headers=auth(token))
    assert [s["id"] for s in day.json()["items"]] == [late["id"]]
    by_track = await client.get(
        f"{sf.base(slug)}/sessions?track={track['id']}", headers=auth(token)
    )
    assert [s["id"] for s in by_track.json()["items"]] == [late["id"]]
    by_room = await client.get(f"{sf.base(slug)}/programme?room={room['id']}", headers=auth(token))
    assert [s["id"] for s in by_room.json()["items"]] == ids[1:]
    assert by_room.json()["items"][0]["room"]["name"] == room["name"]


async def test_programme_day_filter_spans_the_25_hour_dst_day(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend, starts_on="2030-10-26", ends_on="2030-10-28")
    # The 27th in Amsterdam runs from 22:00Z on the 26th to 23:00Z on the 27th: 25 hours.
    first = await sf.session(client, token, slug, "2030-10-26T22:00:00Z", "2030-10-26T22:30:00Z")
    last = await sf.session(client, token, slug, "2030-10-27T22:30:00Z", "2030-10-27T22:59:00Z")
    await sf.session(client, token, slug, "2030-10-27T23:00:00Z", "2030-10-27T23:30:00Z")
    day = await client.get(f"{sf.base(slug)}/programme?day=2030-10-27", headers=auth(token))
    items = day.json()["items"]
    assert [s["id"] for s in items] == [first["id"], last["id"]]
    assert items[0]["starts_at"] == "2030-10-27T00:00:00+02:00"
    assert items[1]["starts_at"] == "2030-10-27T23:30:00+01:00"


async def test_delete_removes_draft_sessions_only(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend)
    made = await sf.session(client, token, slug, "2030-10-08T08:00:00Z", "2030-10-08T09:00:00Z")
    kept = await sf.session(client, token, slug, "2030-10-08T10:00:00Z", "2030-10-08T11:00:00Z")
    deleted = await client.delete(f"{sf.base(slug)}/sessions/{made['id']}", headers=auth(token))
    assert deleted.status_code == 204
    assert (
        await client.get(f"{sf.base(slug)}/sessions/{made['id']}", headers=auth(token))
    ).status_code == 404
    await client.post(f"/api/v1/festivals/{slug}/publish", headers=auth(token))
    refused = await client.delete(f"{sf.base(slug)}/sessions/{kept['id']}", headers=auth(token))
    assert refused.status_code == 409
    assert refused.json()["code"] == "published_session"


async def test_rooms_and_speakers_in_use_cannot_be_deleted_but_tracks_can(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend)
    room, ada, track = (
        await sf.room(client, token, slug),
        await sf.speaker(client, token, slug),
        await sf.track(client, token, slug),
    )
    made = await sf.session(
        client,
        token,
        slug,
        "2030-10-08T08:00:00Z",
        "2030-10-08T09:00:00Z",
        room_id=room["id"],
        speaker_ids=[ada["id"]],
        track_id=track["id"],
    )
    for path in (f"rooms/{room['id']}", f"speakers/{ada['id']}"):
        assert (
            await client.delete(f"{sf.base(slug)}/{path}", headers=auth(token))
        ).status_code == 409
    assert (
        await client.delete(f"{sf.base(slug)}/tracks/{track['id']}", headers=auth(token))
    ).status_code == 204
    again = await client.get(f"{sf.base(slug)}/sessions/{made['id']}", headers=auth(token))
    assert again.json()["track_id"] is None


async def test_duplicate_track_name_is_409_and_bad_colour_422(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _setup(client, backend)
    await sf.track(client, token, slug, name="Food")
    twice = await client.post(f"{sf.base(slug)}/tracks", headers=auth(token), json={"name": "Food"})
    assert twice.status_code == 409
    assert twice.json()["errors"][0]["field"] == "name"
    colour = await client.post(
        f"{sf.base(slug)}/tracks", headers=auth(token), json={"name": "Red", "colour": "red"}
    )
    assert colour.status_code == 422


async def test_concurrent_bookings_of_one_room_give_one_session_and_one_clash(
    live_server: Any, backend: Backend
) -> None:
    import asyncio

    async with httpx.AsyncClient(base_url=live_server.url) as setup:
        token, slug = await _setup(setup, backend)
        room = await sf.room(setup, token, slug)
    bodies = [
        sf.session_body(f"2030-10-08T08:{m:02d}:00Z", "2030-10-08T09:30:00Z", room_id=room["id"])
        for m in range(0, 40, 5)
    ]

    async def book(body: dict[str, Any]) -> int:
        async with httpx.AsyncClient(base_url=live_server.url) as own:
            response = await own.post(f"{sf.base(slug)}/sessions", headers=auth(token), json=body)
            return response.status_code

    codes = await asyncio.gather(*(book(b) for b in bodies))
    assert sorted(codes) == [201] + [409] * (len(bodies) - 1)


async def test_public_programme_reads_do_not_wait_for_a_writer(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    import asyncio

    token, slug = await _setup(client, backend)
    await sf.session(client, token, slug, "2030-10-08T08:00:00Z", "2030-10-08T09:00:00Z")
    await client.post(f"/api/v1/festivals/{slug}/publish", headers=auth(token))
    async with backend.engine.connect() as writer:
        await writer.begin()  # on SQLite: BEGIN IMMEDIATE, the write lock is held from here
        await writer.exec_driver_sql("UPDATE tracks SET name = name WHERE 1 = 0")
        for path in ("programme", "calendar.ics", "sessions"):
            # Without a DEFERRED begin this would queue for the lock (30 s busy timeout).
            response = await asyncio.wait_for(client.get(f"{sf.base(slug)}/{path}"), 10)
            assert response.status_code == 200
        await writer.rollback()
