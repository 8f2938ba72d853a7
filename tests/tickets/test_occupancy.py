"""How full on-site sessions are, for the programme page (issue 19): counts only."""

from __future__ import annotations

import httpx

from tests.conftest import Backend, LiveServer
from tests.factories.festival import auth
from tests.factories.tickets import open_festival, programme_session, registered, staff_token


async def test_an_onsite_workshop_shows_seats_taken_people_in_and_waiting(
    live_server: LiveServer, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        made, token = await open_festival(client, backend.engine, mode="hybrid")
        slug = made["slug"]
        workshop = await programme_session(backend.engine, made["id"], capacity=2)
        await programme_session(backend.engine, made["id"], title="Talk")  # no seats: not listed
        people = [await registered(client, slug) for _ in range(3)]
        for person in people:
            seat = await client.put(
                f"/api/v1/me/seats/{workshop}", headers=auth(person["attendee_token"])
            )
            assert seat.status_code == 200, seat.text
        door = await staff_token(client, token, slug)
        scanned = await client.post(
            f"/api/v1/festivals/{slug}/checkins",
            json={"qr": people[0]["ticket"]["qr"], "list": str(workshop)},
            headers=auth(door),
        )
        assert scanned.status_code == 201, scanned.text
        seen = await client.get(f"/api/v1/festivals/{slug}/occupancy")  # anyone may look
        assert seen.status_code == 200
        assert seen.json() == [
            {
                "session_id": str(workshop),
                "capacity": 2,
                "reserved": 2,
                "checked_in": 1,
                "waiting": 1,
            }
        ]
        assert "@" not in seen.text
        online, _ = await open_festival(client, backend.engine, mode="online")
        await programme_session(backend.engine, online["id"], capacity=5)
        assert (await client.get(f"/api/v1/festivals/{online['slug']}/occupancy")).json() == []
