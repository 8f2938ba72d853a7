"""Workshop seats and favourites: capacity, waiting list, overlaps, bad input."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.conftest import Backend
from tests.factories.festival import auth
from tests.factories.tickets import DAY_ONE, open_festival, programme_session, registered


async def test_seats_confirm_then_waitlist_and_release_promotes(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine)
    workshop = await programme_session(backend.engine, made["id"], capacity=1)
    second_email = "second@example.org"
    first = await registered(client, made["slug"])
    second = await registered(client, made["slug"], email=second_email)
    url = f"/api/v1/me/seats/{workshop}"
    one = await client.put(url, headers=auth(first["attendee_token"]))
    two = await client.put(url, headers=auth(second["attendee_token"]))
    assert one.json() == {
        "session_id": str(workshop),
        "status": "confirmed",
        "waitlist_position": None,
    }
    assert (two.json()["status"], two.json()["waitlist_position"]) == ("waitlisted", 1)
    assert (await client.put(url, headers=auth(first["attendee_token"]))).json() == one.json()
    assert (await client.delete(url, headers=auth(first["attendee_token"]))).status_code == 204
    me = (await client.get("/api/v1/me", headers=auth(second["attendee_token"]))).json()
    assert me["seats"] == [
        {"session_id": str(workshop), "status": "confirmed", "waitlist_position": None}
    ]
    assert (await client.delete(url, headers=auth(first["attendee_token"]))).status_code == 204


async def test_overlapping_reservation_is_409_naming_the_other_session(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine)
    morning = await programme_session(backend.engine, made["id"], title="Design sprint", capacity=5)
    clash = await programme_session(
        backend.engine, made["id"], starts_at=DAY_ONE + timedelta(minutes=60), capacity=5
    )
    later = await programme_session(
        backend.engine, made["id"], starts_at=DAY_ONE + timedelta(minutes=90), capacity=5
    )
    token = auth((await registered(client, made["slug"]))["attendee_token"])
    assert (await client.put(f"/api/v1/me/seats/{morning}", headers=token)).status_code == 200
    reply = await client.put(f"/api/v1/me/seats/{clash}", headers=token)
    assert reply.status_code == 409
    assert (reply.json()["session_id"], reply.json()["code"]) == (str(morning), "seat_clash")
    assert "Design sprint" in reply.json()["detail"]
    assert (await client.put(f"/api/v1/me/seats/{later}", headers=token)).status_code == 200


async def test_bad_seat_requests_are_clear_4xx(client: httpx.AsyncClient, backend: Backend) -> None:
    made, _ = await open_festival(client, backend.engine, capacity=1)
    other, _ = await open_festival(client, backend.engine)
    open_talk = await programme_session(backend.engine, made["id"], capacity=None)
    foreign = await programme_session(backend.engine, other["id"], capacity=5)
    workshop = await programme_session(
        backend.engine, made["id"], starts_at=DAY_ONE + timedelta(days=1), capacity=5
    )
    token = auth((await registered(client, made["slug"]))["attendee_token"])
    waiting = auth((await registered(client, made["slug"]))["attendee_token"])
    no_seats = await client.put(f"/api/v1/me/seats/{open_talk}", headers=token)
    assert (no_seats.status_code, no_seats.json()["code"]) == (422, "no_seats")
    assert no_seats.json()["errors"][0]["field"] == "session_id"
    assert (await client.put(f"/api/v1/me/seats/{foreign}", headers=token)).status_code == 404
    assert (await client.put("/api/v1/me/seats/not-a-uuid", headers=token)).status_code == 422
    unconfirmed = await client.put(f"/api/v1/me/seats/{workshop}", headers=waiting)
    assert (unconfirmed.status_code, unconfirmed.json()["code"]) == (409, "not_confirmed")
    me = (await client.get("/api/v1/me", headers=token)).json()
    assert me["seats"] == []


async def test_favourites_are_idempotent_and_listed(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine)
    talk = await programme_session(backend.engine, made["id"])
    token = auth((await registered(client, made["slug"]))["attendee_token"])
    for _ in range(2):
        assert (await client.put(f"/api/v1/me/favourites/{talk}", headers=token)).status_code == 204
    assert (await client.get("/api/v1/me", headers=token)).json()["favourites"] == [str(talk)]
    assert (await client.delete(f"/api/v1/me/favourites/{talk}", headers=token)).status_code == 204
    assert (await client.get("/api/v1/me", headers=token)).json()["favourites"] == []


async def test_unfavouriting_another_festivals_session_is_404_like_favouriting_it(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine)
    other, _ = await open_festival(client, backend.engine)
    talk = await programme_session(backend.engine, made["id"])
    foreign = await programme_session(backend.engine, other["id"])
    token = auth((await registered(client, made["slug"]))["attendee_token"])
    theirs = auth((await registered(client, other["slug"]))["attendee_token"])
    assert (await client.put(f"/api/v1/me/favourites/{foreign}", headers=theirs)).status_code == 204
    for method in ("PUT", "DELETE"):
        reply = await client.request(method, f"/api/v1/me/favourites/{foreign}", headers=token)
        assert reply.status_code == 404, method
        assert reply.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in reply.json()["errors"]] == ["session_id"], method
    # Not favourited, but of this festival: unfavouriting stays an idempotent 204.
    assert (await client.delete(f"/api/v1/me/favourites/{talk}", headers=token)).status_code == 204
    assert (await client.get("/api/v1/me", headers=theirs)).json()["favourites"] == [str(foreign)]


async def test_cancelling_a_registration_releases_its_seats_to_the_waiting_list(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine)
    workshop = await programme_session(backend.engine, made["id"], capacity=1)
    first, second = [await registered(client, made["slug"]) for _ in range(2)]
    for person in (first, second):
        await client.put(f"/api/v1/me/seats/{workshop}", headers=auth(person["attendee_token"]))
    await client.delete("/api/v1/me/registration", headers=auth(first["attendee_token"]))
    me = (await client.get("/api/v1/me", headers=auth(second["attendee_token"]))).json()
    assert [s["status"] for s in me["seats"]] == ["confirmed"]
