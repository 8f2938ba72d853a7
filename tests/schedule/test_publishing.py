"""Publishing: drafts change silently; then changes are logged, announced and sequenced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from festival import events
from schedule.events import SessionChanged
from tests.conftest import Backend
from tests.factories import festival as ff
from tests.factories import schedule as sf
from tests.factories.festival import auth
from tests.schedule.validators import parse_ics_twice


@pytest.fixture
def heard() -> Iterator[list[SessionChanged]]:
    """SessionChanged events announced during the test, as a subscriber sees them."""
    received: list[SessionChanged] = []

    async def handler(_: AsyncSession, event: SessionChanged) -> None:
        received.append(event)

    events.subscribe(SessionChanged, handler)
    yield received
    events._handlers[SessionChanged].remove(handler)


async def _published(
    client: httpx.AsyncClient, backend: Backend
) -> tuple[str, str, dict[str, Any]]:
    _, token = await sf.organiser(backend.engine)
    slug = (await ff.festival(client, token, publish=False))["slug"]
    room = await sf.room(client, token, slug, name="Hall")
    made = await sf.session(
        client,
        token,
        slug,
        "2030-10-08T08:00:00Z",
        "2030-10-08T09:00:00Z",
        title="Draft title",
        room_id=room["id"],
    )
    await client.patch(
        f"{sf.base(slug)}/sessions/{made['id']}", headers=auth(token), json={"title": "Final title"}
    )
    published = await client.post(f"/api/v1/festivals/{slug}/publish", headers=auth(token))
    assert published.status_code == 200
    return token, slug, made


async def test_changes_before_publication_are_not_logged(
    client: httpx.AsyncClient, backend: Backend, heard: list[SessionChanged]
) -> None:
    _, slug, made = await _published(client, backend)
    assert (await client.get(f"{sf.base(slug)}/changes")).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert (await client.get(f"{sf.base(slug)}/sessions/{made['id']}")).json()["sequence"] == 0
    assert heard == []


async def test_moving_a_published_session_raises_sequence_and_logs_a_change(
    client: httpx.AsyncClient, backend: Backend, heard: list[SessionChanged]
) -> None:
    token, slug, made = await _published(client, backend)
    moved = await client.patch(
        f"{sf.base(slug)}/sessions/{made['id']}",
        headers=auth(token),
        json={"starts_at": "2030-10-08T10:00:00+02:00", "ends_at": "2030-10-08T11:30:00+02:00"},
    )
    assert moved.json()["sequence"] == 1
    changes = (await client.get(f"{sf.base(slug)}/changes")).json()["items"]
    assert [(c["kind"], c["session_id"], c["title"]) for c in changes] == [
        ("moved", made["id"], "Final title")
    ]
    assert changes[0]["before"]["starts_at"] == "2030-10-08T10:00:00+02:00"
    assert changes[0]["after"]["ends_at"] == "2030-10-08T11:30:00+02:00"
    assert datetime.fromisoformat(changes[0]["at"]).utcoffset() is not None
    calendar, _ = parse_ics_twice((await client.get(f"{sf.base(slug)}/calendar.ics")).content)
    event = calendar.walk("VEVENT")[0]
    assert str(event["UID"]) == f"{made['id']}@festival"
    assert event["SEQUENCE"] == 1
    assert [(e.kind, e.session_id.hex, e.sequence) for e in heard] == [
        ("moved", made["id"].replace("-", ""), 1)
    ]
    assert heard[0].after == changes[0]["after"]


async def test_each_kind_of_change_is_logged_newest_first(
    client: httpx.AsyncClient, backend: Backend, heard: list[SessionChanged]
) -> None:
    token, slug, made = await _published(client, backend)
    ada = await sf.speaker(client, token, slug, name="Ada")
    path = f"{sf.base(slug)}/sessions/{made['id']}"
    for change in (
        {"title": "Retitled"},
        {"speaker_ids": [ada["id"]]},
        {"abstract": "quiet edit"},
        {"status": "cancelled"},
        {"status": "scheduled"},
    ):
        assert (await client.patch(path, headers=auth(token), json=change)).status_code == 200
    added = await sf.session(
        client, token, slug, "2030-10-09T08:00:00Z", "2030-10-09T09:00:00Z", title="Late addition"
    )
    changes = (await client.get(f"{sf.base(slug)}/changes")).json()["items"]
    assert [c["kind"] for c in changes] == ["added", "added", "cancelled", "speakers", "retitled"]
    assert changes[0]["session_id"] == added["id"]
    assert changes[3]["after"]["speakers"] == ["Ada"]
    assert changes[4]["before"] == {"title": "Final title"}
    assert (await client.get(path)).json()["sequence"] == 4
    assert [e.kind for e in heard] == ["retitled", "speakers", "cancelled", "added", "added"]
    first_page = (await client.get(f"{sf.base(slug)}/changes?limit=2")).json()
    second_page = (
        await client.get(f"{sf.base(slug)}/changes?limit=2&cursor={first_page['next_cursor']}")
    ).json()
    assert [c["kind"] for c in first_page["items"] + second_page["items"]] == [
        c["kind"] for c in changes[:4]
    ]


async def test_a_patch_that_changes_nothing_keeps_sequence_and_etag(
    client: httpx.AsyncClient, backend: Backend, heard: list[SessionChanged]
) -> None:
    token, slug, made = await _published(client, backend)
    etag = (await client.get(f"{sf.base(slug)}/calendar.ics")).headers["etag"]
    same = await client.patch(
        f"{sf.base(slug)}/sessions/{made['id']}",
        headers=auth(token),
        json={"title": "Final title", "starts_at": "2030-10-08T10:00:00+02:00"},
    )
    assert same.json()["sequence"] == 0
    again = await client.get(f"{sf.base(slug)}/calendar.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert heard == []
