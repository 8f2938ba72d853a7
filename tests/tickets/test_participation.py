"""Hybrid editions: on-site and online lines, each with its own places and waiting
list, under real concurrent clients on SQLite and PostgreSQL (issue 19)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from tests.conftest import Backend, LiveServer
from tests.factories.festival import auth
from tests.factories.tickets import open_festival, registered, staff_token


def _client(server: LiveServer) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    return httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120)


async def _register(client: httpx.AsyncClient, slug: str, n: int, line: str) -> dict[str, Any]:
    body = {"name": f"{line} {n}", "email": f"{line}-{n}@example.org", "participation": line}
    reply = await client.post(f"/api/v1/festivals/{slug}/registrations", json=body)
    assert reply.status_code == 201, reply.text
    made: dict[str, Any] = reply.json()
    return made


async def _lines(client: httpx.AsyncClient, slug: str, token: str) -> dict[str, dict[str, int]]:
    stats = await client.get(f"/api/v1/festivals/{slug}/checkins/stats", headers=auth(token))
    assert stats.status_code == 200, stats.text
    lines: dict[str, dict[str, int]] = stats.json()["participation"]
    return lines


async def test_300_at_once_fill_each_line_to_its_own_capacity_and_wait_in_their_own_line(
    live_server: LiveServer, backend: Backend
) -> None:
    async with _client(live_server) as client:
        made, token = await open_festival(
            client, backend.engine, mode="hybrid", capacity=20, online_capacity=200
        )
        slug = made["slug"]
        asked = [("onsite", n) for n in range(60)] + [("online", n) for n in range(240)]
        replies = await asyncio.gather(*(_register(client, slug, n, line) for line, n in asked))
        got = Counter((r["participation"], r["status"]) for r in replies)
        # No reply confirms past a line's capacity. On PostgreSQL a claim skips a
        # place another request holds locked that instant (SKIP LOCKED, so a rush
        # does not queue): if that one then lets it go, the skipped registration was
        # told "waitlisted" and is promoted by the next registration, so replies may
        # say one fewer confirmed than the database ends with.
        assert got[("onsite", "confirmed")] <= 20
        assert got[("online", "confirmed")] <= 200
        assert sum(got.values()) == 300
        for line in ("onsite", "online"):
            waiting = [
                r for r in replies if (r["participation"], r["status"]) == (line, "waitlisted")
            ]
            positions = [r["waitlist_position"] for r in waiting]
            assert len(set(positions)) == len(positions)  # each line numbers its own
        # The database once the rush is over: each line exactly full, the rest waiting.
        assert await _lines(client, slug, token) == {
            "online": {"confirmed": 200, "waitlisted": 40, "cancelled": 0},
            "onsite": {"confirmed": 20, "waitlisted": 40, "cancelled": 0},
        }

        # A cancellation promotes within its own line only.
        leaving = next(
            r for r in replies if (r["participation"], r["status"]) == ("onsite", "confirmed")
        )
        gone = await client.delete(
            "/api/v1/me/registration", headers=auth(leaving["attendee_token"])
        )
        assert gone.status_code == 204
        first_onsite = next(
            r for r in replies if r["participation"] == "onsite" and r["waitlist_position"] == 1
        )
        me = await client.get("/api/v1/me", headers=auth(first_onsite["attendee_token"]))
        assert me.json()["status"] == "confirmed"
        lines = await _lines(client, slug, token)
        assert lines["onsite"] == {"confirmed": 20, "waitlisted": 39, "cancelled": 1}
        assert lines["online"] == {"confirmed": 200, "waitlisted": 40, "cancelled": 0}


async def test_switches_at_once_never_exceed_either_line_and_the_place_left_is_given_on(
    live_server: LiveServer, backend: Backend
) -> None:
    async with _client(live_server) as client:
        made, token = await open_festival(
            client, backend.engine, mode="hybrid", capacity=5, online_capacity=2
        )
        slug = made["slug"]
        hall = [await _register(client, slug, n, "onsite") for n in range(5)]
        waiting = [await _register(client, slug, n, "onsite") for n in range(5, 8)]
        assert [w["status"] for w in waiting] == ["waitlisted"] * 3

        async def switch(person: dict[str, Any]) -> httpx.Response:
            return await client.patch(
                "/api/v1/me",
                json={"participation": "online"},
                headers=auth(person["attendee_token"]),
            )

        replies = await asyncio.gather(*(switch(p) for p in hall))
        assert sorted(r.status_code for r in replies) == [200, 200, 409, 409, 409]
        refused = [r.json() for r in replies if r.status_code == 409]
        assert {r["code"] for r in refused} == {"participation_full"}
        moved = [r.json() for r in replies if r.status_code == 200]
        assert [(m["participation"], m["status"]) for m in moved] == [("online", "confirmed")] * 2
        # The two places left in the hall went to the first two in its line.
        lines = await _lines(client, slug, token)
        assert lines["online"]["confirmed"] == 2
        assert lines["onsite"] == {"confirmed": 5, "waitlisted": 1, "cancelled": 0}
        promoted = [
            (await client.get("/api/v1/me", headers=auth(w["attendee_token"]))).json()["status"]
            for w in waiting
        ]
        assert promoted == ["confirmed", "confirmed", "waitlisted"]

        # Waiting, one moves to the other line's list keeping the number it registered with.
        last = waiting[2]
        back = await client.patch(
            "/api/v1/me", json={"participation": "online"}, headers=auth(last["attendee_token"])
        )
        assert (back.json()["participation"], back.json()["status"]) == ("online", "waitlisted")


async def test_the_door_refuses_an_online_participant_and_admits_an_onsite_one(
    live_server: LiveServer, backend: Backend
) -> None:
    async with _client(live_server) as client:
        made, token = await open_festival(client, backend.engine, mode="hybrid")
        slug = made["slug"]
        door = await staff_token(client, token, slug)
        streamer = await _register(client, slug, 1, "online")
        visitor = await _register(client, slug, 2, "onsite")
        url = f"/api/v1/festivals/{slug}/checkins"
        refused = await client.post(url, json={"qr": streamer["ticket"]["qr"]}, headers=auth(door))
        assert refused.status_code == 422, refused.text
        assert refused.json()["result"] == "wrong_list"
        assert "online participant" in refused.json()["detail"]
        admitted = await client.post(url, json={"qr": visitor["ticket"]["qr"]}, headers=auth(door))
        assert admitted.status_code == 201, admitted.text
        # An on-site-only festival has no online line to ask for.
        hall, _ = await open_festival(client, backend.engine, mode="onsite")
        wrong = await client.post(
            f"/api/v1/festivals/{hall['slug']}/registrations",
            json={"name": "X", "email": "x@example.org", "participation": "online"},
        )
        assert (wrong.status_code, wrong.json()["errors"][0]["field"]) == (422, "participation")
        plain = await registered(client, hall["slug"])
        assert plain["participation"] == "onsite"
