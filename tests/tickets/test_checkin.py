"""Check-in at the door: signed QR tickets, every result, history, revert, stats."""

from __future__ import annotations

import base64
import csv
import io
import xml.etree.ElementTree as ET
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import select

from tests.conftest import METRICS_AUTH, Backend
from tests.factories.festival import auth
from tests.factories.tickets import (
    checkin_door,
    programme_session,
    registered,
    staff_token,
    zbar_decode,
)
from tickets.models import Checkin


async def _door(client: httpx.AsyncClient, backend: Backend, **overrides: Any) -> dict[str, Any]:
    return await checkin_door(client, backend.engine, **overrides)


async def _scan(
    client: httpx.AsyncClient, door: dict[str, Any], qr: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/api/v1/festivals/{door['slug']}/checkins",
        json={"qr": qr, **extra},
        headers=auth(door["staff"]),
    )


async def _history(backend: Backend) -> list[str]:
    async with backend.engine.connect() as connection:
        rows = await connection.execute(select(Checkin.result).order_by(Checkin.recorded_at))
        return [r[0] for r in rows]


def _tamper(qr: str, at: int) -> str:
    swap = "A" if qr[at] != "A" else "B"
    return qr[:at] + swap + qr[at + 1 :]


async def test_ticket_png_decodes_to_the_payload_which_checks_in_once(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    attendee = await registered(client, door["slug"], name="Scan Me")
    png = await client.get("/api/v1/me/ticket.png", headers=auth(attendee["attendee_token"]))
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    decoded = zbar_decode(Image.open(io.BytesIO(png.content)))
    assert [d.data.decode() for d in decoded] == [attendee["ticket"]["qr"]]
    ok = await _scan(client, door, decoded[0].data.decode(), gate="North")
    assert ok.status_code == 201
    body = ok.json()
    assert (body["result"], body["attendee"], body["list"], body["gate"]) == (
        "ok",
        {"name": "Scan Me"},
        "festival",
        "North",
    )
    again = await _scan(client, door, attendee["ticket"]["qr"], gate="South")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert (again.json()["result"], again.json()["gate"]) == ("already_checked_in", "North")
    assert again.json()["checked_in_at"] == body["checked_in_at"]


async def test_ticket_svg_is_an_svg_document(client: httpx.AsyncClient, backend: Backend) -> None:
    door = await _door(client, backend)
    attendee = await registered(client, door["slug"])
    svg = await client.get("/api/v1/me/ticket.svg", headers=auth(attendee["attendee_token"]))
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert ET.fromstring(svg.content).tag.endswith("svg")


async def test_tampering_with_one_character_is_invalid_and_recorded(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    qr = (await registered(client, door["slug"]))["ticket"]["qr"]
    positions = [0, 1, 20, 40, 100, len(qr) - 1]
    for at in positions:
        reply = await _scan(client, door, _tamper(qr, at))
        assert (reply.status_code, reply.json()["result"]) == (422, "invalid"), at
    assert await _history(backend) == ["invalid"] * len(positions)
    assert (await _scan(client, door, qr)).status_code == 201


async def test_garbage_and_truncated_payloads_are_invalid(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    qr = (await registered(client, door["slug"]))["ticket"]["qr"]
    garbage = ["", "hello", "!!!!", "A" * 135, "https://example.org/?q=1", "x" * 400]
    for payload in [*garbage, qr[:-10], qr[:50], qr + "AA", " " + qr[1:]]:
        reply = await _scan(client, door, payload)
        assert reply.status_code == 422, payload
        assert reply.json()["result"] == "invalid"
    assert await _history(backend) == ["invalid"] * (len(garbage) + 4)


async def test_a_ticket_of_another_festival_is_wrong_festival(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    other = await _door(client, backend)
    qr = (await registered(client, other["slug"]))["ticket"]["qr"]
    reply = await _scan(client, door, qr)
    assert (reply.status_code, reply.json()["result"]) == (422, "wrong_festival")
    forged = _tamper(qr, 110)
    assert (await _scan(client, door, forged)).json()["result"] == "invalid"


async def test_reissued_ticket_revokes_the_old_payload(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    attendee = await registered(client, door["slug"])
    old = attendee["ticket"]["qr"]
    new = await client.post("/api/v1/me/ticket/reissue", headers=auth(attendee["attendee_token"]))
    assert new.status_code == 200
    assert new.json()["version"] == 2
    replay = await _scan(client, door, old)
    assert (replay.status_code, replay.json()["result"]) == (422, "revoked")
    assert (await _scan(client, door, new.json()["qr"])).status_code == 201
    bundle = await client.get(
        f"/api/v1/festivals/{door['slug']}/checkin-bundle", headers=auth(door["staff"])
    )
    assert bundle.json()["revoked"] == [{"ticket_id": attendee["ticket"]["id"], "version": 1}]
    assert bundle.json()["revoked_ticket_ids"] == []


async def test_cancelled_registration_ticket_is_revoked(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    attendee = await registered(client, door["slug"])
    await client.delete("/api/v1/me/registration", headers=auth(attendee["attendee_token"]))
    reply = await _scan(client, door, attendee["ticket"]["qr"])
    assert (reply.status_code, reply.json()["result"]) == (422, "revoked")
    png = await client.get("/api/v1/me/ticket.png", headers=auth(attendee["attendee_token"]))
    assert png.status_code == 401  # the token died with the registration (issue 16)


async def test_workshop_door_needs_a_seat_in_that_workshop(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    workshop = await programme_session(backend.engine, door["id"], capacity=10)
    seated = await registered(client, door["slug"])
    unseated = await registered(client, door["slug"])
    await client.put(f"/api/v1/me/seats/{workshop}", headers=auth(seated["attendee_token"]))
    denied = await _scan(client, door, unseated["ticket"]["qr"], list=str(workshop))
    assert (denied.status_code, denied.json()["result"]) == (422, "wrong_list")
    ok = await _scan(client, door, seated["ticket"]["qr"], list=str(workshop))
    assert (ok.status_code, ok.json()["list"]) == (201, str(workshop))
    entrance = await _scan(client, door, seated["ticket"]["qr"])
    assert entrance.status_code == 201  # another list, another check-in
    unknown = await _scan(client, door, seated["ticket"]["qr"], list="nowhere")
    assert unknown.status_code == 404


async def test_revert_is_a_new_history_entry_and_frees_the_ticket(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    qr = (await registered(client, door["slug"]))["ticket"]["qr"]
    first = (await _scan(client, door, qr, gate="A")).json()
    url = f"/api/v1/festivals/{door['slug']}/checkins/{first['id']}"
    reverted = await client.delete(url, headers=auth(door["staff"]))
    assert reverted.status_code == 200
    assert (reverted.json()["result"], reverted.json()["reverts"]) == ("reverted", first["id"])
    assert (await client.delete(url, headers=auth(door["staff"]))).status_code == 409
    second = await _scan(client, door, qr, gate="B")
    assert (second.status_code, second.json()["gate"]) == (201, "B")
    assert await _history(backend) == ["ok", "reverted", "ok"]


async def test_only_checkin_staff_of_the_festival_may_scan(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    other = await _door(client, backend)
    attendee = await registered(client, door["slug"])
    qr = attendee["ticket"]["qr"]
    url = f"/api/v1/festivals/{door['slug']}/checkins"
    moderator = await staff_token(client, door["organiser"], door["slug"], role="moderator")
    for token, status in (
        (other["staff"], 403),
        (moderator, 403),
        (door["organiser"], 403),
        (attendee["attendee_token"], 403),
        (attendee["feed_token"], 401),
    ):
        reply = await client.post(url, json={"qr": qr}, headers=auth(token))
        assert reply.status_code == status
    assert await _history(backend) == []


async def test_bundle_carries_the_public_key_that_verifies_tickets_offline(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    door = await _door(client, backend)
    kept = await registered(client, door["slug"])
    gone = await registered(client, door["slug"])
    await client.delete("/api/v1/me/registration", headers=auth(gone["attendee_token"]))
    reply = await client.get(
        f"/api/v1/festivals/{door['slug']}/checkin-bundle", headers=auth(door["staff"])
    )
    assert reply.status_code == 200
    bundle = reply.json()
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(bundle["public_key"] + "="))
    raw = base64.urlsafe_b64decode(kept["ticket"]["qr"] + "=" * (-len(kept["ticket"]["qr"]) % 4))
    key.verify(raw[37:], raw[:37])  # raises if the signature does not verify
    assert bundle["revoked"] == [{"ticket_id": gone["ticket"]["id"], "version": 1}]
    assert bundle["revoked_ticket_ids"] == [gone["ticket"]["id"]]
    assert bundle["bundle_version"] == 2


async def test_stats_count_lists_arrivals_and_denials_and_draw_a_chart(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend, capacity=5)
    people = [await registered(client, door["slug"]) for _ in range(3)]
    for person in people[:2]:
        await _scan(client, door, person["ticket"]["qr"])
    await _scan(client, door, "garbage")
    url = f"/api/v1/festivals/{door['slug']}/checkins"
    stats = (await client.get(f"{url}/stats", headers=auth(door["organiser"]))).json()
    assert stats["registrations"] == {"confirmed": 3, "waitlisted": 0, "cancelled": 0}
    assert [(s["list"], s["checked_in"], s["expected"]) for s in stats["lists"]] == [
        ("festival", 2, 3)
    ]
    assert sum(b["count"] for b in stats["arrivals"]) == 2
    assert stats["denied"] == {"invalid": 1}
    svg = await client.get(f"{url}/arrivals.svg", headers=auth(door["staff"]))
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert ET.fromstring(svg.content).tag.endswith("svg")
    attendee = await client.get(f"{url}/stats", headers=auth(people[0]["attendee_token"]))
    assert attendee.status_code == 403
    exported = await client.get(
        f"/api/v1/festivals/{door['slug']}/attendees.csv", headers=auth(door["organiser"])
    )
    rows = list(csv.DictReader(exported.text.splitlines()))
    arrived = [r["id"] for r in rows if r["checked_in_at"]]
    assert sorted(arrived) == sorted(p["id"] for p in people[:2])


async def test_checkin_with_idempotency_key_is_not_recorded_twice(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    qr = (await registered(client, door["slug"]))["ticket"]["qr"]
    url = f"/api/v1/festivals/{door['slug']}/checkins"
    headers = {**auth(door["staff"]), "Idempotency-Key": "scan-1"}
    first = await client.post(url, json={"qr": qr}, headers=headers)
    second = await client.post(url, json={"qr": qr}, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert await _history(backend) == ["ok"]


async def test_scans_outside_the_plain_shape_get_the_routes_answers(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """Plain scans take the fast lane (api.http.fastlane); a body the lane cannot read
    goes to the route, which answers with its usual 422 (415 for a body not typed
    as JSON) and records nothing."""
    door = await _door(client, backend)
    url = f"/api/v1/festivals/{door['slug']}/checkins"
    missing = await client.post(url, json={"gate": "North"}, headers=auth(door["staff"]))
    json_type = {"Content-Type": "application/json"}
    garbage = await client.post(url, content=b"{not json", headers=auth(door["staff"]) | json_type)
    untyped = await client.post(url, content=b'{"qr": "x"}', headers=auth(door["staff"]))
    assert (missing.status_code, garbage.status_code, untyped.status_code) == (422, 422, 415)
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["errors"][0]["field"] == "qr"
    assert await _history(backend) == []


async def test_the_fast_lane_answers_like_the_route(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    qr = (await registered(client, door["slug"], name="Lane"))["ticket"]["qr"]
    url = f"/api/v1/festivals/{door['slug']}/checkins"
    anonymous = await client.post(url, json={"qr": qr})
    scheme = await client.post(url, json={"qr": qr}, headers={"Authorization": "Basic x"})
    assert (anonymous.status_code, scheme.status_code) == (401, 401)
    assert anonymous.headers["content-type"] == "application/problem+json"
    lower = {"Authorization": f"bearer {door['staff']}"}
    ok = await client.post(url, json={"qr": qr, "gate": "East"}, headers=lower)
    assert ok.status_code == 201, ok.text
    assert ok.headers["content-type"] == "application/json"
    assert ok.json()["attendee"] == {"name": "Lane"}
    again = await client.post(url, json={"qr": qr}, headers=auth(door["staff"]))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["gate"] == "East"
    metrics = (await client.get("/metrics", headers=METRICS_AUTH)).text
    assert 'route="/api/v1/festivals/{slug}/checkins",status="201"' in metrics


def test_the_arrivals_chart_draws_a_name_its_font_lacks() -> None:
    """Found by schemathesis: a festival name in a script the font lacks made a 500."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from tickets.reports import draw_arrivals
    from tickets.schemas import ArrivalBucket

    buckets = [ArrivalBucket(starts_at=datetime(2030, 10, 8, 8, 30, tzinfo=UTC), count=3)]
    svg = draw_arrivals("Fest \U0005dc7d \u2fff", ZoneInfo("Europe/Amsterdam"), buckets)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
