"""Concurrency with real clients against a real server: places, scans, cancellations.

Every request gets its own database connection and transaction, so these races
are decided by the database (conditional updates, the live check-in index),
on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import Backend, LiveServer
from tests.factories.festival import auth
from tests.factories.tickets import (
    open_festival,
    programme_session,
    registered,
    running_now,
    scanner_device,
    staff_token,
)


def _client(server: LiveServer) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=250, max_keepalive_connections=250)
    return httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60)


async def _stats(client: httpx.AsyncClient, slug: str, token: str) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/festivals/{slug}/checkins/stats", headers=auth(token))
    assert reply.status_code == 200, reply.text
    stats: dict[str, Any] = reply.json()
    return stats


async def test_200_concurrent_registrations_for_10_places_confirm_exactly_10(
    live_server: LiveServer, backend: Backend
) -> None:
    async with _client(live_server) as client:
        made, token = await open_festival(client, backend.engine, capacity=10)
        url = f"/api/v1/festivals/{made['slug']}/registrations"
        bodies = [{"name": f"R{n}", "email": f"r{n}@example.org"} for n in range(200)]
        replies = await asyncio.gather(*(client.post(url, json=b) for b in bodies))
        assert [r.status_code for r in replies] == [201] * 200
        statuses = Counter(r.json()["status"] for r in replies)
        assert statuses == {"confirmed": 10, "waitlisted": 190}
        positions = sorted(r.json()["waitlist_position"] or 0 for r in replies)
        assert positions[10:] == list(range(1, 191))
        stats = await _stats(client, made["slug"], token)
        assert stats["registrations"] == {"confirmed": 10, "waitlisted": 190, "cancelled": 0}


async def test_one_email_registered_by_30_clients_at_once_is_registered_once(
    live_server: LiveServer, backend: Backend
) -> None:
    """The race the active-e-mail index decides: one 201, the others 409, and no
    half-written registration (tokens, ticket, letter or place) behind the 409s."""
    async with _client(live_server) as client:
        made, token = await open_festival(client, backend.engine, capacity=100)
        url = f"/api/v1/festivals/{made['slug']}/registrations"
        await registered(client, made["slug"])  # places made, keys known: the common path
        body = {"name": "Twin", "email": "twin@example.org"}
        replies = await asyncio.gather(*(client.post(url, json=body) for _ in range(30)))
        assert sorted(r.status_code for r in replies) == [201] + [409] * 29
        assert {r.json()["code"] for r in replies if r.status_code == 409} == {"already_registered"}
        stats = await _stats(client, made["slug"], token)
        assert stats["registrations"] == {"confirmed": 2, "waitlisted": 0, "cancelled": 0}
        listed = await client.get(url, headers=auth(token))
        assert sorted(r["email"] for r in listed.json()["items"])[1:] == ["twin@example.org"]
        # Every test starts on empty tables: all rows here are this festival's.
        async with backend.engine.connect() as connection:
            counts = [
                (await connection.execute(text(sql))).scalar_one()
                for sql in (
                    "SELECT count(*) FROM tickets",
                    "SELECT count(*) FROM outbox",
                    "SELECT count(*) FROM tokens WHERE kind = 'feed'",
                    "SELECT count(*) FROM places WHERE registration_id IS NOT NULL",
                )
            ]
        assert counts == [2, 2, 2, 2]  # tickets, letters, feed tokens, places held


async def test_50_concurrent_scans_of_one_ticket_give_exactly_one_ok(
    live_server: LiveServer, backend: Backend
) -> None:
    async with _client(live_server) as client:
        made, token = await open_festival(client, backend.engine)
        staff = await staff_token(client, token, made["slug"])
        ticket = (await registered(client, made["slug"]))["ticket"]["qr"]
        url = f"/api/v1/festivals/{made['slug']}/checkins"
        replies = await asyncio.gather(
            *(
                client.post(url, json={"qr": ticket, "gate": f"G{n}"}, headers=auth(staff))
                for n in range(50)
            )
        )
        assert Counter(r.status_code for r in replies) == {201: 1, 409: 49}
        winner = next(r.json() for r in replies if r.status_code == 201)
        losers = [r.json() for r in replies if r.status_code == 409]
        assert {(x["result"], x["gate"], x["checked_in_at"]) for x in losers} == {
            ("already_checked_in", winner["gate"], winner["checked_in_at"])
        }
        stats = await _stats(client, made["slug"], token)
        assert stats["lists"][0]["checked_in"] == 1
        assert stats["denied"] == {"already_checked_in": 49}


async def test_a_rush_at_the_door_admits_each_ticket_once_and_refuses_each_stranger(
    live_server: LiveServer, backend: Backend
) -> None:
    """Scans arriving together go to the database together on PostgreSQL (the door's
    batches): each is still answered as it would be alone."""
    async with _client(live_server) as client:
        made, token = await open_festival(client, backend.engine)
        staff = await staff_token(client, token, made["slug"])
        tickets = [(await registered(client, made["slug"]))["ticket"]["qr"] for _ in range(20)]
        url = f"/api/v1/festivals/{made['slug']}/checkins"
        scans = [(staff, qr) for qr in tickets * 2] + [("fs_" + "x" * 43, tickets[0])] * 5
        replies = await asyncio.gather(
            *(client.post(url, json={"qr": qr}, headers=auth(key)) for key, qr in scans)
        )
        assert Counter(r.status_code for r in replies) == {201: 20, 409: 20, 401: 5}
        admitted = {r.json()["attendee"]["name"] for r in replies if r.status_code == 201}
        assert len(admitted) == 20  # each ticket once
        stats = await _stats(client, made["slug"], token)
        assert stats["lists"][0]["checked_in"] == 20
        assert stats["denied"] == {"already_checked_in": 20}


async def test_concurrent_cancellations_promote_without_losing_or_doubling_a_place(
    live_server: LiveServer, backend: Backend
) -> None:
    async with _client(live_server) as client:
        made, token = await open_festival(client, backend.engine, capacity=10)
        people = [await registered(client, made["slug"], name=f"C{n}") for n in range(30)]
        confirmed = [p for p in people if p["status"] == "confirmed"]
        waiting = [p for p in people if p["status"] == "waitlisted"]
        leaving = confirmed[:8] + waiting[-4:]
        replies = await asyncio.gather(
            *(
                client.delete("/api/v1/me/registration", headers=auth(p["attendee_token"]))
                for p in leaving + leaving[:3]  # some cancel twice at once
            )
        )
        # Of two cancels of one registration sent at once, one is a 204; the other is a
        # 204 too if it was let in before the first committed, else a 401: the token
        # died with the registration. The 12 are cancelled once each (the stats below).
        twice = len(leaving) - 3
        first, again = replies[: len(leaving)], replies[len(leaving) :]
        assert [r.status_code for r in first[3:]] == [204] * twice
        for one, other in zip(first[:3], again, strict=True):
            assert sorted((one.status_code, other.status_code)) in ([204, 204], [204, 401])
        stats = await _stats(client, made["slug"], token)
        assert stats["registrations"] == {"confirmed": 10, "waitlisted": 8, "cancelled": 12}
        promoted = []
        for person in waiting[:8]:
            me = (await client.get("/api/v1/me", headers=auth(person["attendee_token"]))).json()
            promoted.append(me["status"])
        assert promoted == ["confirmed"] * 8  # first come, first promoted
        listed = await client.get(
            f"/api/v1/festivals/{made['slug']}/registrations?status=confirmed&limit=200",
            headers=auth(token),
        )
        assert len(listed.json()["items"]) == 10


async def test_concurrent_seat_reservations_fill_exactly_the_seats(
    live_server: LiveServer, backend: Backend
) -> None:
    async with _client(live_server) as client:
        made, _ = await open_festival(client, backend.engine, capacity=100)
        workshop = await programme_session(backend.engine, made["id"], capacity=5)
        people = [await registered(client, made["slug"]) for _ in range(25)]
        replies = await asyncio.gather(
            *(
                client.put(f"/api/v1/me/seats/{workshop}", headers=auth(p["attendee_token"]))
                for p in people
            )
        )
        assert {r.status_code for r in replies} == {200}
        assert Counter(r.json()["status"] for r in replies) == {"confirmed": 5, "waitlisted": 20}
        holders = [
            p for p, r in zip(people, replies, strict=True) if r.json()["status"] == "confirmed"
        ]
        released = await asyncio.gather(
            *(
                client.delete(f"/api/v1/me/seats/{workshop}", headers=auth(p["attendee_token"]))
                for p in holders[:3]
            )
        )
        assert {r.status_code for r in released} == {204}
        seats = []
        for person in people:
            me = (await client.get("/api/v1/me", headers=auth(person["attendee_token"]))).json()
            seats += [s["status"] for s in me["seats"]]
        assert Counter(seats) == {"confirmed": 5, "waitlisted": 17}


async def test_concurrent_offline_syncs_admit_the_ticket_once(
    live_server: LiveServer, backend: Backend
) -> None:
    """Ten devices sync the same ticket at once: one is admitted, nine hear
    ``already_checked_in`` naming it, and an earlier scan time does not take its place."""
    from datetime import UTC, datetime, timedelta

    async with _client(live_server) as client:
        made, token = await open_festival(client, backend.engine, **running_now())
        staff = await staff_token(client, token, made["slug"])
        qr = (await registered(client, made["slug"]))["ticket"]["qr"]
        devices = [await scanner_device(client, staff, made["slug"], f"d{n}") for n in range(10)]
        url = f"/api/v1/festivals/{made['slug']}/checkins/sync"
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        minutes = [7, 3, 9, 1, 5, 8, 2, 6, 4, 10]
        replies = await asyncio.gather(
            *(
                client.post(
                    url,
                    json={
                        "scans": [
                            {
                                "qr": qr,
                                "scanned_at": (start + timedelta(minutes=m)).isoformat(),
                                "device_id": device,
                                "gate": f"G{n}",
                            }
                        ]
                    },
                    headers=auth(staff),
                )
                for n, (device, m) in enumerate(zip(devices, minutes, strict=True))
            )
        )
        assert {r.status_code for r in replies} == {200}, [r.text for r in replies]
        results = [r.json()["results"][0] for r in replies]
        assert Counter(r["result"] for r in results) == {"ok": 1, "already_checked_in": 9}
        (won,) = [r for r in results if r["result"] == "ok"]
        assert {(r["gate"], r["checked_in_at"]) for r in results} == {
            (won["gate"], won["checked_in_at"])
        }
        again = await client.post(
            f"/api/v1/festivals/{made['slug']}/checkins", json={"qr": qr}, headers=auth(staff)
        )
        assert again.status_code == 409
        assert (again.json()["gate"], again.json()["checked_in_at"]) == (
            won["gate"],
            won["checked_in_at"],
        )
        stats = await _stats(client, made["slug"], token)
        assert stats["lists"][0]["checked_in"] == 1
