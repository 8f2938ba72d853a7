"""Tracks, rooms and speakers: create, list, read, change, delete; idempotent creates."""

from __future__ import annotations

import httpx

from festival.settings import Settings
from tests.conftest import Backend
from tests.factories import festival as ff
from tests.factories import schedule as sf
from tests.factories.festival import auth


async def test_rooms_are_listed_by_name_a_page_at_a_time_and_changed_field_by_field(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await sf.organiser(backend.engine)
    slug = (await ff.festival(client, token))["slug"]
    for name in ("C", "A", "B"):
        await sf.room(client, token, slug, name=name)
    first = (await client.get(f"{sf.base(slug)}/rooms?limit=2")).json()
    second = (
        await client.get(f"{sf.base(slug)}/rooms?limit=2&cursor={first['next_cursor']}")
    ).json()
    assert [r["name"] for r in first["items"] + second["items"]] == ["A", "B", "C"]
    assert second["next_cursor"] is None
    room = first["items"][0]
    changed = await client.patch(
        f"{sf.base(slug)}/rooms/{room['id']}",
        headers=auth(token),
        json={"kind": "virtual", "stream_url": "https://stream.example.org/a"},
    )
    assert changed.json() == room | {
        "kind": "virtual",
        "stream_url": "https://stream.example.org/a",
    }
    refused = await client.patch(
        f"{sf.base(slug)}/rooms/{room['id']}", headers=auth(token), json={"kind": "hall"}
    )
    assert refused.status_code == 422
    renamed = await client.patch(
        f"{sf.base(slug)}/rooms/{room['id']}", headers=auth(token), json={"name": "B"}
    )
    assert renamed.status_code == 409


async def test_a_retried_create_with_the_same_idempotency_key_makes_one_session(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await sf.organiser(backend.engine)
    slug = (await ff.festival(client, token))["slug"]
    body = sf.session_body("2030-10-08T08:00:00Z", "2030-10-08T09:00:00Z")
    headers = {**auth(token), "Idempotency-Key": "retry-1"}
    first = await client.post(f"{sf.base(slug)}/sessions", headers=headers, json=body)
    again = await client.post(f"{sf.base(slug)}/sessions", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    listed = (await client.get(f"{sf.base(slug)}/sessions")).json()["items"]
    assert [s["id"] for s in listed] == [first.json()["id"]]


async def test_unknown_items_are_404_and_another_festivals_items_too(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await sf.organiser(backend.engine)
    slug = (await ff.festival(client, token))["slug"]
    other = (await ff.festival(client, token))["slug"]
    speaker = await sf.speaker(client, token, other)
    for path in (f"speakers/{speaker['id']}", "tracks/00000000-0000-0000-0000-000000000000"):
        assert (await client.get(f"{sf.base(slug)}/{path}")).status_code == 404
        patched = await client.patch(f"{sf.base(slug)}/{path}", headers=auth(token), json={})
        assert patched.status_code == 404
    assert (await client.get(f"{sf.base(slug)}/sessions/not-a-uuid")).status_code == 422


async def test_loading_the_demo_twice_changes_nothing(
    client: httpx.AsyncClient, backend: Backend, settings: Settings
) -> None:
    await sf.demo(backend.engine, settings)
    base = "/api/v1/festivals/innovation-impulse"
    before = (await client.get(f"{base}/schedule.json")).headers["etag"]
    await sf.demo(backend.engine, settings)
    after = await client.get(f"{base}/schedule.json", headers={"If-None-Match": before})
    assert after.status_code == 304
    assert (await client.get(f"{base}/changes")).json()["items"] == []
    sessions = (await client.get(f"{base}/sessions")).json()["items"]
    assert len(sessions) == 8
    assert sorted(s["title"] for s in sessions if s["live_qa"]) == [
        "Opening keynote: partnerships for the next decade",
        "Workshop: the Power Awareness Tool in practice",
    ]
    assert [s["capacity"] for s in sessions if s["format"] == "workshop"] == [24, 30]
