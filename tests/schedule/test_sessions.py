"""Sessions: create, read, list, change, delete; validation, clashes and time zones."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Backend
from tests.factories import festival as ff
from tests.factories import schedule as sf
from tests.factories.festival import auth


async def _setup(client: httpx.AsyncClient, backend: Backend, **fest: Any) -> tuple[str, str]:
    _, token = await ff.organiser(backend.engine)
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
