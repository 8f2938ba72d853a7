"""Offline scanners: batches with duplicates, revoked tickets and bad items, sent twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from tests.conftest import Backend
from tests.factories.festival import auth
from tests.factories.tickets import (
    open_festival,
    registered,
    running_now,
    scanner_device,
    staff_token,
)
from tickets.checkin import scan_key
from tickets.models import Checkin

# Offline scans must fall within the festival's days and not in the future: the
# festival runs from yesterday to tomorrow, and the scans were made hours ago.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
DEVICES = ("door-1", "door-2", "tablet", "door")


def _at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


async def _setup(client: httpx.AsyncClient, backend: Backend) -> dict[str, Any]:
    made, token = await open_festival(client, backend.engine, **running_now())
    staff = await staff_token(client, token, made["slug"])
    people = [await registered(client, made["slug"], name=f"P{n}") for n in range(3)]
    gone = people[2]
    await client.delete("/api/v1/me/registration", headers=auth(gone["attendee_token"]))
    devices = {name: await scanner_device(client, staff, made["slug"], name) for name in DEVICES}
    return {
        "slug": made["slug"],
        "staff": staff,
        "organiser": token,
        "people": people,
        "devices": devices,
    }


async def _sync(client: httpx.AsyncClient, ctx: dict[str, Any], scans: list[Any]) -> Any:
    """Sync ``scans``, each naming its device by the name it was registered under."""
    for scan in scans:
        if isinstance(scan, dict) and scan.get("device_id") in ctx["devices"]:
            scan["device_id"] = ctx["devices"][scan["device_id"]]
    reply = await client.post(
        f"/api/v1/festivals/{ctx['slug']}/checkins/sync",
        json={"scans": scans},
        headers=auth(ctx["staff"]),
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["results"]


async def _rows(backend: Backend) -> int:
    async with backend.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(Checkin)) or 0)


async def test_batch_with_duplicates_and_a_revoked_ticket_syncs_identically_twice(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ctx = await _setup(client, backend)
    a, b, gone = (p["ticket"]["qr"] for p in ctx["people"])
    scans: list[Any] = [
        {"qr": a, "scanned_at": _at(5), "device_id": "door-2", "gate": "East"},
        {"qr": a, "scanned_at": _at(1), "device_id": "door-1", "gate": "West"},
        {"qr": b, "scanned_at": _at(2), "device_id": "door-1", "gate": "West"},
        {"qr": gone, "scanned_at": _at(3), "device_id": "door-1"},
        {"qr": "garbage", "scanned_at": _at(4), "device_id": "door-1"},
        {"qr": b, "scanned_at": "yesterday", "device_id": "door-1"},
        "not even an object",
        {"qr": a, "scanned_at": _at(1), "device_id": "door-1", "gate": "West"},
    ]
    first = await _sync(client, ctx, scans)
    assert [r["result"] for r in first] == [
        "already_checked_in",
        "ok",
        "ok",
        "revoked",
        "invalid",
        "invalid",
        "invalid",
        "ok",
    ]
    assert (first[0]["checked_in_at"], first[0]["gate"]) == (_at(1), "West")
    assert first[7] == first[1]  # the same scan twice in a batch is one scan
    assert first[1]["checked_in_at"] == _at(1)
    assert "scans[5]" in first[5]["detail"]
    rows = await _rows(backend)
    second = await _sync(client, ctx, scans)
    assert second == first
    assert await _rows(backend) == rows == 5


async def test_scans_kept_with_their_whole_reply_are_answered_as_they_were(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """Rows written before scans answered in domain terms kept the whole reply,
    problem fields included; a batch sent again is still answered as the first time."""
    ctx = await _setup(client, backend)
    a, _, gone = (p["ticket"]["qr"] for p in ctx["people"])
    scans: list[Any] = [
        {"qr": a, "scanned_at": _at(1), "device_id": "door-1", "gate": "West"},
        {"qr": a, "scanned_at": _at(2), "device_id": "door-2"},
        {"qr": gone, "scanned_at": _at(3), "device_id": "door-1"},
        {"qr": "garbage", "scanned_at": _at(4), "device_id": "door-1"},
    ]
    first = await _sync(client, ctx, scans)
    assert [r["result"] for r in first] == ["ok", "already_checked_in", "revoked", "invalid"]
    async with backend.engine.begin() as connection:
        for scan, reply in zip(scans, first, strict=True):
            when = datetime.fromisoformat(scan["scanned_at"])
            key = scan_key(scan["device_id"], scan["qr"], when)
            await connection.execute(
                update(Checkin).where(Checkin.scan_key == key).values(reply=reply)
            )
    assert await _sync(client, ctx, scans) == first


async def test_an_earlier_offline_scan_never_replaces_an_online_checkin(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """The first check-in recorded counts: a scanner's clock is no proof of an
    earlier arrival, so the offline scan is answered as a duplicate."""
    ctx = await _setup(client, backend)
    qr = ctx["people"][0]["ticket"]["qr"]
    online = await client.post(
        f"/api/v1/festivals/{ctx['slug']}/checkins",
        json={"qr": qr, "gate": "Main"},
        headers=auth(ctx["staff"]),
    )
    assert online.status_code == 201
    at = online.json()["checked_in_at"]
    earlier = datetime.fromisoformat(at) - timedelta(minutes=10)
    results = await _sync(
        client,
        ctx,
        [{"qr": qr, "scanned_at": earlier.isoformat(), "device_id": "tablet", "gate": "Side"}],
    )
    assert results[0]["result"] == "already_checked_in"
    assert (results[0]["gate"], results[0]["checked_in_at"]) == ("Main", at)
    again = await client.post(
        f"/api/v1/festivals/{ctx['slug']}/checkins", json={"qr": qr}, headers=auth(ctx["staff"])
    )
    assert (again.json()["gate"], again.json()["checked_in_at"]) == ("Main", at)
    stats = (
        await client.get(
            f"/api/v1/festivals/{ctx['slug']}/checkins/stats", headers=auth(ctx["organiser"])
        )
    ).json()
    assert stats["lists"][0]["checked_in"] == 1


async def test_bad_sync_bodies_are_422(client: httpx.AsyncClient, backend: Backend) -> None:
    ctx = await _setup(client, backend)
    url = f"/api/v1/festivals/{ctx['slug']}/checkins/sync"
    for body in ({}, {"scans": "nope"}, {"scans": [], "extra": 1}):
        reply = await client.post(url, json=body, headers=auth(ctx["staff"]))
        assert reply.status_code == 422
    assert await _rows(backend) == 0


async def test_arrivals_are_counted_per_quarter_hour_of_the_scan(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, token = await open_festival(client, backend.engine, **running_now())
    staff = await staff_token(client, token, made["slug"])
    people = [await registered(client, made["slug"]) for _ in range(4)]
    ctx = {"slug": made["slug"], "staff": staff, "devices": {}}
    ctx["devices"]["door"] = await scanner_device(client, staff, made["slug"])
    minutes = [1, 14, 20, 47]  # 09:00-09:15 twice, 09:15-09:30 once, 09:45-10:00 once
    scans = [
        {"qr": p["ticket"]["qr"], "scanned_at": _at(m), "device_id": "door"}
        for p, m in zip(people, minutes, strict=True)
    ]
    assert [r["result"] for r in await _sync(client, ctx, scans)] == ["ok"] * 4
    stats = await client.get(
        f"/api/v1/festivals/{made['slug']}/checkins/stats", headers=auth(token)
    )
    assert stats.json()["arrivals"] == [
        {"starts_at": _at(0).replace("+00:00", "Z"), "count": 2},
        {"starts_at": _at(15).replace("+00:00", "Z"), "count": 1},
        {"starts_at": _at(45).replace("+00:00", "Z"), "count": 1},
    ]
