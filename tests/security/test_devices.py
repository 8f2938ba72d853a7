"""Offline sync trusts the device no more (issue 16, finding 7).

Before: ``device_id`` was free text, a scan dated 2000-01-01 replaced an earlier
online check-in and one dated 2099 was taken. Now a check-in token registers
its scanners and syncs only as one of them; a scan's time must fall within the
festival's days (a day either side, in its zone) and not in the future (five
minutes of clock skew); and the first check-in recorded is never replaced.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.conftest import Backend
from tests.factories.festival import auth
from tests.factories.tickets import (
    open_festival,
    registered,
    running_now,
    scanner_device,
    staff_token,
)
from tickets.models import Checkin


async def _door(client: httpx.AsyncClient, backend: Backend) -> dict[str, Any]:
    made, organiser = await open_festival(client, backend.engine, **running_now())
    slug = made["slug"]
    staff = await staff_token(client, organiser, slug)
    other = await staff_token(client, organiser, slug)
    return {
        "slug": slug,
        "organiser": organiser,
        "staff": staff,
        "other": other,
        "device": await scanner_device(client, staff, slug, "East tablet"),
        "qr": (await registered(client, slug, name="Ada"))["ticket"]["qr"],
    }


async def _sync(
    client: httpx.AsyncClient, door: dict[str, Any], scans: list[dict[str, Any]], *, as_: str = ""
) -> httpx.Response:
    return await client.post(
        f"/api/v1/festivals/{door['slug']}/checkins/sync",
        json={"scans": scans},
        headers=auth(door[as_ or "staff"]),
    )


def _scan(door: dict[str, Any], at: datetime, device: str = "") -> dict[str, Any]:
    return {"qr": door["qr"], "scanned_at": at.isoformat(), "device_id": device or door["device"]}


async def _rows(backend: Backend) -> int:
    async with backend.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(Checkin)) or 0)


async def test_a_free_text_device_is_refused_naming_where_to_register(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    reply = await _sync(client, door, [_scan(door, hour_ago, "door-1")])
    assert reply.status_code == 403
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["code"] == "device_not_registered"
    assert problem["device_id"] == "door-1"
    assert problem["register_at"] == f"/api/v1/festivals/{door['slug']}/devices"
    assert problem["register_at"] in problem["detail"]
    assert await _rows(backend) == 0


async def test_a_device_of_another_token_or_a_revoked_one_is_refused(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    # The other door token may not sync as this token's device, even in a batch
    # whose other scan names a device of its own: the whole sync is refused.
    own = await scanner_device(client, door["other"], door["slug"], "West tablet")
    mixed = [_scan(door, hour_ago, own), _scan(door, hour_ago, door["device"])]
    stolen = await _sync(client, door, mixed, as_="other")
    assert (stolen.status_code, stolen.json()["code"]) == (403, "device_not_registered")
    assert stolen.json()["device_id"] == door["device"]
    assert await _rows(backend) == 0

    devices = f"/api/v1/festivals/{door['slug']}/devices"
    revoked = await client.delete(f"{devices}/{door['device']}", headers=auth(door["organiser"]))
    assert revoked.status_code == 204
    listed = (await client.get(devices, headers=auth(door["organiser"]))).json()["items"]
    assert [(d["name"], d["revoked_at"] is not None) for d in listed] == [
        ("East tablet", True),
        ("West tablet", False),
    ]
    refused = await _sync(client, door, [_scan(door, hour_ago)])
    assert (refused.status_code, refused.json()["code"]) == (403, "device_not_registered")
    assert await _rows(backend) == 0


async def test_devices_are_registered_by_door_staff_and_managed_by_the_organiser(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    devices = f"/api/v1/festivals/{door['slug']}/devices"
    attendee = (await registered(client, door["slug"]))["attendee_token"]
    for token in (door["organiser"], attendee):
        made = await client.post(devices, json={"name": "Mine"}, headers=auth(token))
        assert made.status_code == 403, made.text
    # A door token sees its own devices only, and may not revoke one.
    await scanner_device(client, door["other"], door["slug"], "West tablet")
    own = (await client.get(devices, headers=auth(door["staff"]))).json()["items"]
    assert [d["id"] for d in own] == [door["device"]]
    gone = await client.delete(f"{devices}/{door['device']}", headers=auth(door["staff"]))
    assert gone.status_code == 403
    # Another festival's organiser sees nothing of these.
    _, stranger = await open_festival(client, backend.engine)
    assert (await client.get(devices, headers=auth(stranger))).status_code == 404
    assert (await client.post(devices, json={}, headers=auth(door["staff"]))).status_code == 422


async def test_scans_dated_outside_the_festival_or_in_the_future_are_refused_one_by_one(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    now = datetime.now(UTC)
    scans = [
        _scan(door, datetime(2000, 1, 1, tzinfo=UTC)),
        _scan(door, datetime(2099, 1, 1, tzinfo=UTC)),
        _scan(door, now + timedelta(minutes=10)),
        _scan(door, now - timedelta(days=3)),  # before the day before the festival
        _scan(door, now - timedelta(hours=1)),
    ]
    reply = await _sync(client, door, scans)
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert [r["result"] for r in results] == ["invalid"] * 4 + ["ok"]
    for n, refused in enumerate(results[:4]):
        assert refused["detail"].startswith(f"scans[{n}]: scanned_at ")
        assert "outside the festival's scanning window" in refused["detail"]
    assert await _rows(backend) == 1


async def test_a_backdated_offline_scan_does_not_replace_an_online_checkin(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    online = await client.post(
        f"/api/v1/festivals/{door['slug']}/checkins",
        json={"qr": door["qr"], "gate": "Main"},
        headers=auth(door["staff"]),
    )
    assert online.status_code == 201
    first = (online.json()["gate"], online.json()["checked_in_at"])
    backdated = [
        _scan(door, datetime(2000, 1, 1, tzinfo=UTC)) | {"gate": "Side"},
        _scan(door, datetime.now(UTC) - timedelta(hours=2)) | {"gate": "Side"},
    ]
    results = (await _sync(client, door, backdated)).json()["results"]
    assert [r["result"] for r in results] == ["invalid", "already_checked_in"]
    assert (results[1]["gate"], results[1]["checked_in_at"]) == first
    again = await client.post(
        f"/api/v1/festivals/{door['slug']}/checkins",
        json={"qr": door["qr"]},
        headers=auth(door["staff"]),
    )
    assert (again.status_code, again.json()["gate"], again.json()["checked_in_at"]) == (
        409,
        *first,
    )


async def test_a_registration_retried_with_its_idempotency_key_is_one_device(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    devices = f"/api/v1/festivals/{door['slug']}/devices"
    headers = auth(door["staff"]) | {"Idempotency-Key": "tablet-2-first-boot"}
    first, again = [
        await client.post(devices, json={"name": "Tablet 2"}, headers=headers) for _ in range(2)
    ]
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    listed = (await client.get(devices, headers=auth(door["staff"]))).json()["items"]
    assert [d["name"] for d in listed] == ["East tablet", "Tablet 2"]
