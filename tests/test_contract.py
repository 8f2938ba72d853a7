"""The public contract (shared/API.md) walked as a client would, one scenario per section.

Everything goes through the HTTP API of the real app (httpx over ASGI) on SQLite
and PostgreSQL; only the organiser account is made directly (there is no sign-up
route). Assertions name the paths, statuses, fields and shapes of API.md only, not
the implementation's extras.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import METRICS_AUTH, Backend
from tests.factories import festival as ff
from tests.factories import tickets as tf
from tests.factories.festival import auth
from tests.realtime.asgi import AsgiSocket
from tests.schedule.validators import assert_valid_json, assert_valid_xml

API = "/api/v1"
PROBLEM = "application/problem+json"
PASSWORD = "correct horse battery"  # what tests.factories.festival.organiser sets
DAY_ONE = "2030-10-08"
DAY_TWO = "2030-10-09"


# --- helpers -----------------------------------------------------------------


def fest(slug: str) -> str:
    return f"{API}/festivals/{slug}"


def at(day: str, hour: int, minute: int = 0) -> str:
    """A local time at the festival (Europe/Amsterdam is +02:00 in October 2030)."""
    return f"{day}T{hour:02d}:{minute:02d}:00+02:00"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with the contract's four fields and the given status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body


async def organiser(backend: Backend) -> tuple[str, str]:
    """An organiser's e-mail and bearer token."""
    email = f"org-{uuid.uuid4().hex[:8]}@example.org"
    _, token = await ff.organiser(backend.engine, email)
    return email, token


async def created(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], token: str
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def staff(
    client: httpx.AsyncClient,
    token: str,
    slug: str,
    role: str,
    session_ids: list[str] | None = None,
) -> str:
    body: dict[str, Any] = {"role": role, "label": f"{role} desk"}
    if session_ids is not None:
        body["session_ids"] = session_ids
    issued = await created(client, f"{fest(slug)}/staff-tokens", body, token)
    raw: str = issued["token"]
    return raw


async def talk(
    client: httpx.AsyncClient, token: str, slug: str, start: str, end: str, **body: Any
) -> dict[str, Any]:
    body = {"title": f"Talk {uuid.uuid4().hex[:6]}", "format": "talk", **body}
    return await created(
        client, f"{fest(slug)}/sessions", {"starts_at": start, "ends_at": end, **body}, token
    )


async def register(
    client: httpx.AsyncClient, slug: str, name: str = "Ada Lovelace", email: str | None = None
) -> httpx.Response:
    email = email or f"{uuid.uuid4().hex[:8]}@example.org"
    return await client.post(f"{fest(slug)}/registrations", json={"name": name, "email": email})


async def attendee(client: httpx.AsyncClient, slug: str, name: str = "Ada") -> dict[str, Any]:
    response = await register(client, slug, name)
    assert response.status_code == 201, response.text
    reply: dict[str, Any] = response.json()
    return reply


def ics_events(text: str) -> list[str]:
    """The VEVENT blocks of an iCalendar text, unfolded."""
    unfolded = text.replace("\r\n ", "").replace("\r\n", "\n")
    return [block.split("END:VEVENT")[0] for block in unfolded.split("BEGIN:VEVENT")[1:]]


def ics_field(event: str, name: str) -> str:
    for line in event.splitlines():
        if line.split(";")[0].split(":")[0] == name:
            return line.split(":", 1)[1]
    raise AssertionError(f"{name} not in {event!r}")


# --- Conventions -------------------------------------------------------------


async def test_errors_are_problem_json_with_401_403_404_and_validation_fields(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, owner = await organiser(backend)
    _, stranger = await organiser(backend)
    draft = await ff.festival(client, owner, publish=False)
    public = await ff.festival(client, owner)

    assert_problem(await client.get(fest("no-such-festival")), 404)
    assert_problem(await client.post(f"{API}/festivals", json=ff.festival_body()), 401)
    bad_token = auth("not-a-token")
    assert_problem(
        await client.post(f"{API}/festivals", json=ff.festival_body(), headers=bad_token), 401
    )
    # A draft may not be seen by others: 404, for anonymous callers and strangers alike.
    assert_problem(await client.get(fest(draft["slug"])), 404)
    assert_problem(await client.get(fest(draft["slug"]), headers=auth(stranger)), 404)
    # A token that may see the festival but not do this: 403.
    visitor = await attendee(client, public["slug"])
    patch = {"name": "Hijacked"}
    assert_problem(
        await client.patch(
            fest(public["slug"]), json=patch, headers=auth(visitor["attendee_token"])
        ),
        403,
    )
    assert_problem(
        await client.post(
            f"{API}/festivals", json=ff.festival_body(), headers=auth(visitor["attendee_token"])
        ),
        403,
    )
    invalid = ff.festival_body(capacity="many")
    problem = assert_problem(
        await client.post(f"{API}/festivals", json=invalid, headers=auth(owner)), 422
    )
    assert "capacity" in str(problem)


async def test_lists_are_paginated_with_items_and_next_cursor(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, owner = await organiser(backend)
    slugs = {(await ff.festival(client, owner, publish=False))["slug"] for _ in range(3)}
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get(f"{API}/festivals", params=params, headers=auth(owner))
        assert page.status_code == 200
        body = page.json()
        assert set(body) >= {"items", "next_cursor"}
        assert len(body["items"]) <= 2
        seen += [f["slug"] for f in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(slugs)


async def test_idempotency_key_replays_the_first_reply_and_changes_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, owner = await organiser(backend)
    body = ff.festival_body()
    headers = auth(owner) | {"Idempotency-Key": "create-once"}
    first = await client.post(f"{API}/festivals", json=body, headers=headers)
    again = await client.post(f"{API}/festivals", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    mine = await client.get(f"{API}/festivals", headers=auth(owner))
    assert [f["slug"] for f in mine.json()["items"]] == [body["slug"]]
    await client.post(f"{fest(body['slug'])}/publish", headers=auth(owner))

    # A retried registration gets its reply again, not the 409 of a second one.
    person = {"name": "Ada", "email": "ada@example.org"}
    once = {"Idempotency-Key": "register-once"}
    path = f"{fest(body['slug'])}/registrations"
    first = await client.post(path, json=person, headers=once)
    again = await client.post(path, json=person, headers=once)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    listed = await client.get(path, headers=auth(owner))
    assert len(listed.json()["items"]) == 1

    door = await staff(client, owner, body["slug"], "checkin")
    scan_once = auth(door) | {"Idempotency-Key": "scan-once"}
    qr = {"qr": first.json()["ticket"]["qr"]}
    first = await client.post(f"{fest(body['slug'])}/checkins", json=qr, headers=scan_once)
    again = await client.post(f"{fest(body['slug'])}/checkins", json=qr, headers=scan_once)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()


async def test_health_readiness_metrics_openapi_and_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
    metrics = await client.get("/metrics", headers=METRICS_AUTH)
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "# TYPE" in metrics.text
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in (
        "/api/v1/auth/token",
        "/api/v1/festivals",
        "/api/v1/festivals/{slug}/programme",
        "/api/v1/festivals/{slug}/registrations",
        "/api/v1/festivals/{slug}/checkins",
        "/api/v1/sessions/{session_id}/questions",
    ):
        assert path in paths
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


# --- Organisers and staff ----------------------------------------------------


async def test_organiser_signs_in_and_issues_lists_and_revokes_staff_tokens(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    email, _ = await organiser(backend)
    signed_in = await client.post(f"{API}/auth/token", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["token_type"].lower() == "bearer"
    owner = signed_in.json()["access_token"]
    wrong = {"email": email, "password": "wrong"}
    assert_problem(await client.post(f"{API}/auth/token", json=wrong), 401)

    slug = (await ff.festival(client, owner))["slug"]
    issued = await client.post(
        f"{fest(slug)}/staff-tokens",
        json={"role": "checkin", "label": "Gate A"},
        headers=auth(owner),
    )
    assert issued.status_code == 201
    raw = issued.json()["token"]
    assert (await client.get(f"{fest(slug)}/checkin-bundle", headers=auth(raw))).status_code == 200

    listed = await client.get(f"{fest(slug)}/staff-tokens", headers=auth(owner))
    assert listed.status_code == 200
    page: Any = listed.json()
    assert page["next_cursor"] is None
    items = page["items"]
    assert [t["label"] for t in items] == ["Gate A"]
    assert raw not in listed.text  # shown once

    revoked = await client.delete(
        f"{fest(slug)}/staff-tokens/{items[0]['id']}", headers=auth(owner)
    )
    assert revoked.status_code in (200, 204)
    assert_problem(await client.get(f"{fest(slug)}/checkin-bundle", headers=auth(raw)), 401)


# --- Festivals ---------------------------------------------------------------


async def test_festival_is_created_read_changed_published_and_listed(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, owner = await organiser(backend)
    body = ff.festival_body(
        mode="hybrid",
        description="Two days of ideas",
        registration_opens_at="2030-01-01T00:00:00+00:00",
        registration_closes_at="2030-10-07T00:00:00+00:00",
    )
    made = await created(client, f"{API}/festivals", body, owner)
    for name in ("slug", "name", "timezone", "starts_on", "ends_on", "mode", "capacity"):
        assert made[name] == body[name]
    assert made["description"] == "Two days of ideas"
    slug = body["slug"]
    assert slug not in (await client.get(f"{API}/festivals")).text
    own = await client.get(f"{API}/festivals", headers=auth(owner))
    assert [f["slug"] for f in own.json()["items"]] == [slug]

    changed = await client.patch(fest(slug), json={"capacity": 250}, headers=auth(owner))
    assert changed.status_code == 200
    assert changed.json()["capacity"] == 250
    assert changed.json()["name"] == body["name"]
    published = await client.post(f"{fest(slug)}/publish", headers=auth(owner))
    assert published.status_code == 200
    public = await client.get(f"{API}/festivals")
    assert slug in [f["slug"] for f in public.json()["items"]]
    assert (await client.get(fest(slug))).json()["capacity"] == 250


# --- Programme ---------------------------------------------------------------


async def test_tracks_rooms_and_speakers_have_crud_and_speaker_email_stays_private(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, owner = await organiser(backend)
    slug = (await ff.festival(client, owner))["slug"]
    bodies: dict[str, dict[str, Any]] = {
        "tracks": {"name": "Data"},
        "rooms": {
            "name": "Stage",
            "kind": "virtual",
            "capacity": 80,
            "stream_url": "https://stream.example.org/stage",
        },
        "speakers": {
            "name": "Grace",
            "bio": "Compilers",
            "organisation": "Navy",
            "email": "grace@example.org",
        },
    }
    for kind, body in bodies.items():
        path = f"{fest(slug)}/{kind}"
        item = await created(client, path, body, owner)
        for name, value in body.items():
            assert item[name] == value, (kind, name)
        listed = await client.get(path)
        assert listed.status_code == 200
        assert [i["id"] for i in listed.json()["items"]] == [item["id"]]
        assert "next_cursor" in listed.json()
        assert (await client.get(f"{path}/{item['id']}")).json()["name"] == body["name"]
        renamed = await client.patch(
            f"{path}/{item['id']}", json={"name": "Renamed"}, headers=auth(owner)
        )
        assert renamed.json()["name"] == "Renamed"
        if kind == "speakers":
            assert "grace@example.org" not in (await client.get(path)).text
            assert "grace@example.org" not in (await client.get(f"{path}/{item['id']}")).text
        assert (await client.delete(f"{path}/{item['id']}", headers=auth(owner))).status_code in (
            200,
            204,
        )
        assert_problem(await client.get(f"{path}/{item['id']}"), 404)


async def test_session_crud_and_clashes_are_409_naming_the_clashing_session(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, owner = await organiser(backend)
    slug = (await ff.festival(client, owner, publish=False))["slug"]
    room = await created(client, f"{fest(slug)}/rooms", {"name": "Hall"}, owner)
    ada = await created(client, f"{fest(slug)}/speakers", {"name": "Ada"}, owner)
    track = await created(client, f"{fest(slug)}/tracks", {"name": "Main"}, owner)
    first = await talk(
        client,
        owner,
        slug,
        at(DAY_ONE, 10),
        at(DAY_ONE, 11),
        title="First",
        abstract="On engines",
        format="keynote",
        track_id=track["id"],
        room_id=room["id"],
        speaker_ids=[ada["id"]],
        capacity=50,
        live_qa=True,
        language="en",
        stream_url="https://stream.example.org/first",
    )
    assert first["title"] == "First"
    assert first["status"] == "scheduled"
    assert first["starts_at"] == at(DAY_ONE, 10)
    assert first["live_qa"] is True
    assert (await client.get(f"{fest(slug)}/sessions/{first['id']}", headers=auth(owner))).json()[
        "title"
    ] == "First"
    listed = await client.get(f"{fest(slug)}/sessions", headers=auth(owner))
    assert [s["id"] for s in listed.json()["items"]] == [first["id"]]

    same_room = {
        "title": "Second",
        "starts_at": at(DAY_ONE, 10, 30),
        "ends_at": at(DAY_ONE, 11, 30),
        "room_id": room["id"],
        "format": "talk",
    }
    same_speaker = {**same_room, "room_id": None, "speaker_ids": [ada["id"]]}
    for body in (same_room, same_speaker):
        clash = await client.post(f"{fest(slug)}/sessions", json=body, headers=auth(owner))
        assert first["id"] in str(assert_problem(clash, 409))
    outside = {
        **same_room,
        "room_id": None,
        "starts_at": "2030-10-12T10:00:00+02:00",
        "ends_at": "2030-10-12T11:00:00+02:00",
    }
    assert_problem(
        await client.post(f"{fest(slug)}/sessions", json=outside, headers=auth(owner)), 409
    )

    moved = await client.patch(
        f"{fest(slug)}/sessions/{first['id']}", json={"title": "Opening"}, headers=auth(owner)
    )
    assert moved.json()["title"] == "Opening"
    deleted = await client.delete(f"{fest(slug)}/sessions/{first['id']}", headers=auth(owner))
    assert deleted.status_code in (200, 204)
    assert_problem(
        await client.get(f"{fest(slug)}/sessions/{first['id']}", headers=auth(owner)), 404
    )


async def test_published_programme_filters_and_cancelled_sessions_stay_with_changes(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, owner = await organiser(backend)
    slug = (await ff.festival(client, owner, publish=False))["slug"]
    hall = await created(client, f"{fest(slug)}/rooms", {"name": "Hall"}, owner)
    main = await created(client, f"{fest(slug)}/tracks", {"name": "Main"}, owner)
    draft = await talk(client, owner, slug, at(DAY_ONE, 9), at(DAY_ONE, 10), title="Draft")
    assert (
        await client.delete(f"{fest(slug)}/sessions/{draft['id']}", headers=auth(owner))
    ).status_code in (200, 204)
    opening = await talk(
        client,
        owner,
        slug,
        at(DAY_ONE, 9),
        at(DAY_ONE, 10),
        title="Opening",
        room_id=hall["id"],
        track_id=main["id"],
    )
    closing = await talk(client, owner, slug, at(DAY_TWO, 16), at(DAY_TWO, 17), title="Closing")
    assert (await client.post(f"{fest(slug)}/publish", headers=auth(owner))).status_code == 200

    programme = await client.get(f"{fest(slug)}/programme")
    assert programme.status_code == 200
    items = programme.json()["items"]
    assert [i["title"] for i in items] == ["Opening", "Closing"]
    assert items[0]["starts_at"] == at(DAY_ONE, 9)  # in the festival's time zone
    for query, titles in (
        ({"day": DAY_TWO}, ["Closing"]),
        ({"track": main["id"]}, ["Opening"]),
        ({"room": hall["id"]}, ["Opening"]),
        ({"day": DAY_TWO, "room": hall["id"]}, []),
    ):
        page = await client.get(f"{fest(slug)}/programme", params=query)
        assert [i["title"] for i in page.json()["items"]] == titles, query

    cancel = await client.patch(
        f"{fest(slug)}/sessions/{closing['id']}", json={"status": "cancelled"}, headers=auth(owner)
    )
    assert cancel.status_code == 200
    assert cancel.json()["status"] == "cancelled"
    shown = (await client.get(f"{fest(slug)}/programme")).json()["items"]
    assert [(i["title"], i["status"]) for i in shown] == [
        ("Opening", "scheduled"),
        ("Closing", "cancelled"),
    ]
    refused = await client.delete(f"{fest(slug)}/sessions/{opening['id']}", headers=auth(owner))
    assert 400 <= refused.status_code < 500
    assert (await client.get(f"{fest(slug)}/sessions/{opening['id']}")).status_code == 200

    await client.patch(
        f"{fest(slug)}/sessions/{opening['id']}", json={"title": "Welcome"}, headers=auth(owner)
    )
    changes = await client.get(f"{fest(slug)}/changes")
    assert changes.status_code == 200
    entries = changes.json()["items"]
    assert [(c["session_id"], c["kind"]) for c in entries] == [
        (opening["id"], "retitled"),
        (closing["id"], "cancelled"),
    ]
    for entry in entries:
        assert {"session_id", "title", "kind", "at"} <= entry.keys()
        assert datetime.fromisoformat(entry["at"]).utcoffset() is not None
    assert entries[0]["title"] == "Welcome"
    assert entries[0]["before"]["title"] == "Opening"
    assert entries[0]["after"]["title"] == "Welcome"


async def test_exports_are_public_once_published_and_calendar_marks_cancel_and_sequence(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, owner = await organiser(backend)
    slug = (await ff.festival(client, owner, publish=False))["slug"]
    hall = await created(client, f"{fest(slug)}/rooms", {"name": "Hall"}, owner)
    ada = await created(client, f"{fest(slug)}/speakers", {"name": "Ada"}, owner)
    kept = await talk(
        client,
        owner,
        slug,
        at(DAY_ONE, 9),
        at(DAY_ONE, 10),
        title="Kept",
        room_id=hall["id"],
        speaker_ids=[ada["id"]],
    )
    dropped = await talk(client, owner, slug, at(DAY_ONE, 11), at(DAY_ONE, 12), title="Dropped")
    feeds = ("calendar.ics", "schedule.xml", "schedule.json", "programme.csv")
    for feed in feeds:
        assert_problem(await client.get(f"{fest(slug)}/{feed}"), 404)
    await client.post(f"{fest(slug)}/publish", headers=auth(owner))

    before = ics_events((await client.get(f"{fest(slug)}/calendar.ics")).text)
    uid = {ics_field(e, "SUMMARY"): ics_field(e, "UID") for e in before}
    sequence = {ics_field(e, "SUMMARY"): int(ics_field(e, "SEQUENCE")) for e in before}
    await client.patch(
        f"{fest(slug)}/sessions/{kept['id']}",
        json={"starts_at": at(DAY_ONE, 13), "ends_at": at(DAY_ONE, 14)},
        headers=auth(owner),
    )
    await client.patch(
        f"{fest(slug)}/sessions/{dropped['id']}", json={"status": "cancelled"}, headers=auth(owner)
    )
    calendar = await client.get(f"{fest(slug)}/calendar.ics")
    assert calendar.status_code == 200
    assert calendar.headers["content-type"].startswith("text/calendar")
    after = {ics_field(e, "SUMMARY"): e for e in ics_events(calendar.text)}
    assert ics_field(after["Dropped"], "STATUS") == "CANCELLED"
    for title in ("Kept", "Dropped"):
        assert ics_field(after[title], "UID") == uid[title]
        assert int(ics_field(after[title], "SEQUENCE")) > sequence[title]
    for query in ({"room": hall["id"]}, {"speaker": ada["id"]}):
        filtered = await client.get(f"{fest(slug)}/calendar.ics", params=query)
        assert [ics_field(e, "SUMMARY") for e in ics_events(filtered.text)] == ["Kept"]

    xml = await client.get(f"{fest(slug)}/schedule.xml")
    assert "xml" in xml.headers["content-type"]
    assert_valid_xml(xml.content)
    frab = await client.get(f"{fest(slug)}/schedule.json")
    assert frab.headers["content-type"].startswith("application/json")
    assert_valid_json(frab.content)
    table = await client.get(f"{fest(slug)}/programme.csv")
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.content.decode("utf-8-sig"))))
    assert sorted(r["title"] for r in rows) == ["Dropped", "Kept"]


async def test_programme_import_reports_created_updated_and_left_alone(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, owner = await organiser(backend)
    slug = (await ff.festival(client, owner))["slug"]
    body = (
        b"id,title,format,room,starts_at,ends_at,speakers\r\n"
        b"k1,Opening,keynote,Hall,2030-10-08T09:00+02:00,2030-10-08T10:00+02:00,Ada\r\n"
    )
    headers = auth(owner) | {"Content-Type": "text/csv"}
    first = await client.post(f"{fest(slug)}/programme/import", content=body, headers=headers)
    assert first.status_code in (200, 201), first.text
    summary = first.json()
    assert {"created", "updated", "unchanged"} <= summary.keys()
    assert summary["created"]["sessions"] == 1
    second = await client.post(f"{fest(slug)}/programme/import", content=body, headers=headers)
    assert second.json()["created"].get("sessions", 0) == 0
    assert second.json()["unchanged"]["sessions"] == 1
    titles = [i["title"] for i in (await client.get(f"{fest(slug)}/programme")).json()["items"]]
    assert titles == ["Opening"]


# --- Registration and tickets ------------------------------------------------


async def test_registration_reply_shape_same_email_409_and_waitlist_moves_up_on_cancel(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, owner = await organiser(backend)
    slug = (await ff.festival(client, owner, capacity=1))["slug"]
    email = f"{uuid.uuid4().hex[:8]}@example.org"
    first = await register(client, slug, "Ada", email)
    assert first.status_code == 201
    ada = first.json()
    assert {"id", "status", "attendee_token", "feed_token", "ticket"} <= ada.keys()
    assert ada["status"] == "confirmed"
    assert {"id", "qr"} <= ada["ticket"].keys()
    assert isinstance(ada["ticket"]["qr"], str)
    assert ada["ticket"]["qr"]

    again = assert_problem(await register(client, slug, "Ada again", email), 409)
    assert ada["attendee_token"] not in str(again)
    assert ada["feed_token"] not in str(again)

    bo = await attendee(client, slug, "Bo")
    assert bo["status"] == "waitlisted"
    assert bo["waitlist_position"] == 1
    assert bo.get("ticket") is None

    me = await client.get(f"{API}/me", headers=auth(ada["attendee_token"]))
    assert me.status_code == 200
    assert me.json()["name"] == "Ada"
    assert_problem(await client.get(f"{API}/me"), 401)
    assert_problem(await client.get(f"{API}/me", headers=auth(ada["feed_token"])), 401)

    cancelled = await client.delete(f"{API}/me/registration", headers=auth(ada["attendee_token"]))
    assert cancelled.status_code in (200, 204)
    promoted = await client.get(f"{API}/me", headers=auth(bo["attendee_token"]))
    assert promoted.json()["status"] == "confirmed"

    confirmed = await client.get(
        f"{fest(slug)}/registrations", params={"status": "confirmed"}, headers=auth(owner)
    )
    assert confirmed.status_code == 200
    assert set(confirmed.json()) >= {"items", "next_cursor"}
    assert [r["id"] for r in confirmed.json()["items"]] == [bo["id"]]
    assert_problem(await client.get(f"{fest(slug)}/registrations"), 401)
    assert_problem(
        await client.get(f"{fest(slug)}/registrations", headers=auth(bo["attendee_token"])), 403
    )
    table = await client.get(f"{fest(slug)}/attendees.csv", headers=auth(owner))
    assert table.status_code == 200
    assert table.headers["content-type"].startswith("text/csv")
    assert "Bo" in table.text


async def test_ticket_images_seats_favourites_and_agenda_feed(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, owner = await organiser(backend)
    slug = (await ff.festival(client, owner, publish=False))["slug"]
    stage = await created(
        client,
        f"{fest(slug)}/rooms",
        {"name": "Stage", "kind": "virtual", "stream_url": "https://stream.example.org/stage"},
        owner,
    )
    workshop = await talk(
        client,
        owner,
        slug,
        at(DAY_ONE, 9),
        at(DAY_ONE, 10),
        title="Workshop",
        format="workshop",
        capacity=1,
    )
    keynote = await talk(
        client,
        owner,
        slug,
        at(DAY_ONE, 11),
        at(DAY_ONE, 12),
        title="Keynote",
        room_id=stage["id"],
    )
    await client.post(f"{fest(slug)}/publish", headers=auth(owner))
    ada, bo = await attendee(client, slug, "Ada"), await attendee(client, slug, "Bo")
    as_ada, as_bo = auth(ada["attendee_token"]), auth(bo["attendee_token"])

    png = await client.get(f"{API}/me/ticket.png", headers=as_ada)
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    svg = await client.get(f"{API}/me/ticket.svg", headers=as_ada)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text

    # A retried reissue must hand back the same new ticket, not revoke it again.
    reissuing = {**as_bo, "Idempotency-Key": "reissue-once"}
    reissued = await client.post(f"{API}/me/ticket/reissue", headers=reissuing)
    retried = await client.post(f"{API}/me/ticket/reissue", headers=reissuing)
    assert reissued.status_code == retried.status_code == 200
    assert retried.json() == reissued.json()
    current = (await client.get(f"{API}/me", headers=as_bo)).json()["ticket"]["qr"]
    assert current == reissued.json()["qr"]

    seat = f"{API}/me/seats/{workshop['id']}"
    assert (await client.put(seat, headers=as_ada)).status_code in (200, 201)
    full = await client.put(seat, headers=as_bo)
    assert full.status_code in (200, 201)
    assert full.json()["status"] == "waitlisted"
    assert (await client.delete(seat, headers=as_ada)).status_code in (200, 204)
    assert (await client.delete(seat, headers=as_bo)).status_code in (200, 204)
    assert (await client.put(seat, headers=as_ada)).status_code in (200, 201)

    favourite = f"{API}/me/favourites/{keynote['id']}"
    assert (await client.put(favourite, headers=as_ada)).status_code in (200, 201, 204)
    me = (await client.get(f"{API}/me", headers=as_ada)).text
    assert keynote["id"] in me
    assert workshop["id"] in me

    feed = await client.get(f"{API}/me/agenda.ics", params={"token": ada["feed_token"]})
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    summaries = sorted(ics_field(e, "SUMMARY") for e in ics_events(feed.text))
    assert summaries == ["Keynote", "Workshop"]
    # The keynote's join link is its live page, which hands the stream to attendees only.
    unfolded = feed.text.replace("\r\n ", "")
    assert f"http://testserver/live/{keynote['id']}" in unfolded
    assert "https://stream.example.org/stage" not in unfolded
    bad = await client.get(f"{API}/me/agenda.ics", params={"token": ada["attendee_token"]})
    assert 400 <= bad.status_code < 500

    assert (await client.delete(favourite, headers=as_ada)).status_code in (200, 204)
    feed = await client.get(f"{API}/me/agenda.ics", params={"token": ada["feed_token"]})
    assert [ics_field(e, "SUMMARY") for e in ics_events(feed.text)] == ["Workshop"]


# --- Check-in ----------------------------------------------------------------


async def scan(
    client: httpx.AsyncClient, slug: str, token: str, qr: str, **body: Any
) -> httpx.Response:
    return await client.post(f"{fest(slug)}/checkins", json={"qr": qr, **body}, headers=auth(token))


async def test_check_in_ok_already_refused_and_revert(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, owner = await organiser(backend)
    slug = (await ff.festival(client, owner, publish=False))["slug"]
    workshop = await talk(
        client, owner, slug, at(DAY_ONE, 9), at(DAY_ONE, 10), format="workshop", capacity=10
    )
    await client.post(f"{fest(slug)}/publish", headers=auth(owner))
    other = (await ff.festival(client, owner))["slug"]
    door = await staff(client, owner, slug, "checkin")
    ada, gone = await attendee(client, slug, "Ada"), await attendee(client, slug, "Gone")
    stranger = await attendee(client, other, "Stranger")
    await client.delete(f"{API}/me/registration", headers=auth(gone["attendee_token"]))

    moderator = await staff(client, owner, slug, "moderator")
    assert_problem(await scan(client, slug, moderator, ada["ticket"]["qr"]), 403)
    assert_problem(await scan(client, slug, ada["attendee_token"], ada["ticket"]["qr"]), 403)

    ok = await scan(client, slug, door, ada["ticket"]["qr"], gate="North")
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert {"id", "result", "attendee", "list", "gate", "checked_in_at"} <= body.keys()
    assert (body["result"], body["attendee"]["name"]) == ("ok", "Ada")
    assert (body["list"], body["gate"]) == ("festival", "North")

    twice = await scan(client, slug, door, ada["ticket"]["qr"], list="festival", gate="South")
    assert twice.status_code == 409
    assert twice.json()["result"] == "already_checked_in"
    assert twice.json()["checked_in_at"] == body["checked_in_at"]
    assert twice.json()["gate"] == "North"

    for qr, extra, result in (
        ("not a ticket", {}, "invalid"),
        (gone["ticket"]["qr"], {}, "revoked"),
        (stranger["ticket"]["qr"], {}, "wrong_festival"),
        (ada["ticket"]["qr"], {"list": workshop["id"]}, "wrong_list"),
    ):
        refused = await scan(client, slug, door, qr, **extra)
        assert refused.status_code == 422, (result, refused.text)
        assert refused.json()["result"] == result

    reverted = await client.delete(f"{fest(slug)}/checkins/{body['id']}", headers=auth(door))
    assert reverted.status_code in (200, 204)
    assert (await scan(client, slug, door, ada["ticket"]["qr"])).status_code == 201


async def test_offline_bundle_sync_in_order_stats_and_arrivals_chart(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, owner = await organiser(backend)
    slug = (await ff.festival(client, owner, **tf.running_now()))["slug"]
    door = await staff(client, owner, slug, "checkin")
    ada, bo, gone = [await attendee(client, slug, n) for n in ("Ada", "Bo", "Gone")]
    await client.delete(f"{API}/me/registration", headers=auth(gone["attendee_token"]))

    bundle = await client.get(f"{fest(slug)}/checkin-bundle", headers=auth(door))
    assert bundle.status_code == 200
    assert {"public_key", "revoked_ticket_ids", "bundle_version"} <= bundle.json().keys()
    assert gone["ticket"]["id"] in bundle.json()["revoked_ticket_ids"]
    assert_problem(await client.get(f"{fest(slug)}/checkin-bundle"), 401)

    await scan(client, slug, door, bo["ticket"]["qr"])
    # The scanner registers itself first; its scans are from within the festival's days.
    tablet = await created(client, f"{fest(slug)}/devices", {"name": "Tablet 1"}, door)
    hour_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    scans = [
        {
            "qr": qr,
            "scanned_at": (hour_ago + timedelta(minutes=i)).isoformat(),
            "device_id": tablet["id"],
            "gate": "East",
        }
        for i, qr in enumerate((ada["ticket"]["qr"], bo["ticket"]["qr"], "garbage"))
    ]
    synced = await client.post(
        f"{fest(slug)}/checkins/sync", json={"scans": scans}, headers=auth(door)
    )
    assert synced.status_code == 200, synced.text
    results = synced.json()["results"]
    assert [r["result"] for r in results] == ["ok", "already_checked_in", "invalid"]
    assert results[0]["attendee"]["name"] == "Ada"
    assert {"id", "list", "gate", "checked_in_at"} <= results[0].keys()
    assert {"checked_in_at", "gate"} <= results[1].keys()

    stats = await client.get(f"{fest(slug)}/checkins/stats", headers=auth(owner))
    assert stats.status_code == 200
    assert "arrivals" in stats.json()
    assert stats.json()["arrivals"]
    chart = await client.get(f"{fest(slug)}/checkins/arrivals.svg", headers=auth(owner))
    assert chart.status_code == 200
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in chart.text


# --- Live sessions -----------------------------------------------------------


async def live_setup(
    client: httpx.AsyncClient, backend: Backend
) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """A published session with live Q&A: its live base path, a moderator token, two attendees."""
    _, owner = await organiser(backend)
    slug = (await ff.festival(client, owner, publish=False))["slug"]
    keynote = await talk(client, owner, slug, at(DAY_ONE, 9), at(DAY_ONE, 10), live_qa=True)
    await client.post(f"{fest(slug)}/publish", headers=auth(owner))
    moderator = await staff(client, owner, slug, "moderator", session_ids=[keynote["id"]])
    ada, bo = await attendee(client, slug, "Ada"), await attendee(client, slug, "Bo")
    return f"{API}/sessions/{keynote['id']}", moderator, ada, bo


async def test_live_questions_projector_links_and_questions_csv(
    app: FastAPI, client: httpx.AsyncClient, backend: Backend
) -> None:
    base, moderator, ada, bo = await live_setup(client, backend)
    as_mod, as_ada, as_bo = auth(moderator), auth(ada["attendee_token"]), auth(bo["attendee_token"])
    assert_problem(
        await client.get(f"{API}/sessions/{uuid.uuid4()}/questions", headers=as_mod), 404
    )
    assert_problem(await client.get(f"{base}/questions"), 401)

    link = await client.post(f"{base}/projector-links", headers=as_mod)
    assert link.status_code == 201
    assert {"token", "url"} <= link.json().keys()
    assert_problem(await client.post(f"{base}/projector-links", headers=as_ada), 403)

    session_id = base.rsplit("/", 1)[1]
    socket = AsgiSocket(app, f"/ws/sessions/{session_id}", f"token={moderator}")
    assert (await socket.connect())["type"] == "websocket.accept"
    snapshot = await socket.frame()
    assert (snapshot["type"], type(snapshot["seq"])) == ("snapshot", int)

    asked = await client.post(
        f"{base}/questions", json={"text": "Why?", "anonymous": True}, headers=as_ada
    )
    assert asked.status_code == 201
    qid = asked.json()["id"]
    added = await socket.until("question.added")
    assert added["seq"] > snapshot["seq"]
    await socket.close()

    queue = await client.get(f"{base}/questions", headers=as_mod)
    assert [q["id"] for q in queue.json()["items"]] == [qid]
    moderated = await client.patch(
        f"{base}/questions/{qid}", json={"action": "approve"}, headers=as_mod
    )
    assert moderated.status_code == 200
    assert moderated.json()["status"] == "approved"
    assert_problem(
        await client.patch(f"{base}/questions/{qid}", json={"action": "dismiss"}, headers=as_bo),
        403,
    )
    voted = await client.post(f"{base}/questions/{qid}/vote", json={"up": True}, headers=as_bo)
    assert voted.status_code == 200
    seen = await client.get(f"{base}/questions", headers=as_bo)
    assert [(q["id"], q["votes"]) for q in seen.json()["items"]] == [(qid, 1)]
    assert "Ada" not in seen.text  # an anonymous question never shows who asked

    exported = await client.get(f"{base}/questions.csv", headers=as_mod)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert [r["text"] for r in csv.DictReader(io.StringIO(exported.text))] == ["Why?"]
    assert_problem(await client.get(f"{base}/questions.csv", headers=as_ada), 403)


async def test_live_polls_open_vote_close_results_and_polls_csv(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    base, moderator, ada, bo = await live_setup(client, backend)
    as_mod, as_ada, as_bo = auth(moderator), auth(ada["attendee_token"]), auth(bo["attendee_token"])
    poll_body = {"question": "Tea or coffee?", "kind": "single", "options": ["Tea", "Coffee"]}
    assert_problem(await client.post(f"{base}/polls", json=poll_body, headers=as_ada), 403)
    made = await client.post(f"{base}/polls", json=poll_body, headers=as_mod)
    assert made.status_code == 201
    poll = made.json()
    assert [o["text"] for o in poll["options"]] == ["Tea", "Coffee"]
    assert all({"id", "text"} <= o.keys() for o in poll["options"])
    pid, coffee = poll["id"], poll["options"][1]["id"]

    opening = {**as_mod, "Idempotency-Key": f"open-{pid}"}
    opened = await client.post(f"{base}/polls/{pid}/open", headers=opening)
    retried = await client.post(f"{base}/polls/{pid}/open", headers=opening)
    assert (opened.status_code, retried.status_code) == (200, 200)
    assert retried.json() == opened.json()
    listed = await client.get(f"{base}/polls", headers=as_ada)
    assert [p["id"] for p in listed.json()["items"]] == [pid]
    for who in (as_ada, as_bo):
        cast = await client.post(
            f"{base}/polls/{pid}/votes", json={"option_ids": [coffee]}, headers=who
        )
        assert cast.status_code in (200, 201)
    closing = {**as_mod, "Idempotency-Key": f"close-{pid}"}
    closed = await client.post(f"{base}/polls/{pid}/close", headers=closing)
    assert closed.status_code == 200
    assert (await client.post(f"{base}/polls/{pid}/close", headers=closing)).json() == closed.json()
    late = await client.post(
        f"{base}/polls/{pid}/votes", json={"option_ids": [coffee]}, headers=as_ada
    )
    assert 400 <= late.status_code < 500

    results = await client.get(f"{base}/polls/{pid}/results", headers=as_ada)
    assert results.status_code == 200
    shown = results.json()
    assert (shown["poll_id"], shown["total"]) == (pid, 2)
    assert [(o["id"], o["text"], o["count"]) for o in shown["options"]] == [
        (poll["options"][0]["id"], "Tea", 0),
        (coffee, "Coffee", 2),
    ]
    exported = await client.get(f"{base}/polls.csv", headers=as_mod)
    assert exported.headers["content-type"].startswith("text/csv")
    assert "Tea or coffee?" in exported.text
    assert_problem(await client.get(f"{base}/polls.csv", headers=as_ada), 403)
