"""When registration and workshop seats close: the organiser's window, else the festival's end.

Dates are relative to now, so these tests mean the same on any day; the rule
itself is checked against fixed instants with the clock passed in.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import Backend, LiveServer
from tests.factories.festival import auth
from tests.factories.tickets import open_festival, programme_session, register, registered
from tickets.errors import RegistrationClosed
from tickets.registration import Desk
from tickets.window import ensure_registration_open, festival_ends_at

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _desk(**overrides: Any) -> Desk:
    desk = Desk(
        id=uuid.uuid4(),
        name="Innovation Festival",
        published_at=datetime(2030, 1, 1, tzinfo=UTC),
        registration_opens_at=None,
        registration_closes_at=None,
        timezone="Europe/Amsterdam",
        ends_on=date(2030, 10, 9),
        email_taken=False,
        waiting_onsite=False,
    )
    return dataclasses.replace(desk, **overrides)


def _days_ago(days: int) -> str:
    """A calendar date ``days`` before today's in UTC (negative: after)."""
    return (datetime.now(UTC) - timedelta(days=days)).date().isoformat()


def _closed_at(ends_on: str, zone: ZoneInfo = AMSTERDAM) -> str:
    """Midnight after the last day, in the festival's zone, as the problem says it."""
    return datetime.combine(
        date.fromisoformat(ends_on) + timedelta(days=1), time(0), zone
    ).isoformat()


@pytest.mark.parametrize(
    ("zone", "closes"),
    [
        ("Europe/Amsterdam", datetime(2030, 10, 9, 22, 0, tzinfo=UTC)),  # CEST, +02:00
        ("Pacific/Auckland", datetime(2030, 10, 9, 11, 0, tzinfo=UTC)),  # NZDT, +13:00
        ("America/Los_Angeles", datetime(2030, 10, 10, 7, 0, tzinfo=UTC)),  # PDT, -07:00
    ],
)
def test_a_festival_ends_at_midnight_after_its_last_day_in_its_own_zone(
    zone: str, closes: datetime
) -> None:
    assert festival_ends_at(_desk(timezone=zone)) == closes


def test_without_a_close_the_last_day_takes_registrations_to_its_end() -> None:
    desk = _desk(timezone="Pacific/Auckland")
    end = datetime(2030, 10, 9, 11, 0, tzinfo=UTC)
    ensure_registration_open(desk, end - timedelta(seconds=1))
    with pytest.raises(RegistrationClosed) as closed:
        ensure_registration_open(desk, end)
    assert closed.value.code == "registration_closed"
    assert closed.value.extras == {"closed_at": "2030-10-10T00:00:00+13:00"}
    assert closed.value.detail == (
        "Registration closed at 2030-10-10T00:00:00+13:00, when Innovation Festival ended "
        "(its last day was 2030-10-09, Pacific/Auckland)"
    )


def test_an_explicit_close_wins_before_or_after_the_end() -> None:
    end = festival_ends_at(_desk())
    late = _desk(registration_closes_at=end + timedelta(days=30))
    ensure_registration_open(late, end + timedelta(days=29))
    early = _desk(registration_closes_at=end - timedelta(days=30))
    with pytest.raises(RegistrationClosed) as closed:
        ensure_registration_open(early, end - timedelta(days=29))
    assert closed.value.detail == "Registration closed at 2030-09-10T00:00:00+02:00"
    assert closed.value.extras == {"closed_at": "2030-09-10T00:00:00+02:00"}
    with pytest.raises(RegistrationClosed):
        ensure_registration_open(late, end + timedelta(days=30))


def test_a_window_that_has_not_opened_says_when_it_opens() -> None:
    opens = datetime(2030, 6, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(RegistrationClosed) as closed:
        ensure_registration_open(_desk(registration_opens_at=opens), opens - timedelta(hours=1))
    assert closed.value.extras == {"opens_at": "2030-06-01T10:00:00+02:00"}
    ensure_registration_open(_desk(registration_opens_at=opens), opens)


async def test_an_ended_festival_refuses_registration_and_its_waiting_list(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, token = await open_festival(client, backend.engine, capacity=1)
    first = await registered(client, made["slug"], name="Before the end")
    slug, ends_on = made["slug"], _days_ago(2)
    moved = await client.patch(
        f"/api/v1/festivals/{slug}",
        json={"starts_on": _days_ago(3), "ends_on": ends_on},
        headers=auth(token),
    )
    assert moved.status_code == 200, moved.text
    plain = await register(client, slug, email="late@example.org")
    routed = await register(
        client, slug, email="late@example.org", headers={"Idempotency-Key": "k"}
    )
    for refused in (plain, routed):
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        body = refused.json()
        assert (body["code"], body["title"]) == ("registration_closed", "Registration is closed")
        assert body["closed_at"] == _closed_at(ends_on)
        assert body["detail"].startswith(f"Registration closed at {_closed_at(ends_on)}, when ")
    assert routed.json() == plain.json()
    listed = await client.get(f"/api/v1/festivals/{slug}/registrations", headers=auth(token))
    assert [r["id"] for r in listed.json()["items"]] == [first["id"]]


async def test_a_festival_under_way_still_takes_registrations(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(
        client, backend.engine, starts_on=_days_ago(1), ends_on=_days_ago(-1), capacity=1
    )
    replies = [await registered(client, made["slug"]) for _ in range(2)]
    assert [r["status"] for r in replies] == ["confirmed", "waitlisted"]


async def test_an_organiser_close_after_the_end_keeps_registration_open_until_then(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    closes = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    made, token = await open_festival(
        client,
        backend.engine,
        starts_on=_days_ago(3),
        ends_on=_days_ago(2),
        registration_closes_at=closes.isoformat(),
    )
    assert (await registered(client, made["slug"]))["status"] == "confirmed"
    cleared = await client.patch(
        f"/api/v1/festivals/{made['slug']}",
        json={"registration_closes_at": None},
        headers=auth(token),
    )
    assert cleared.status_code == 200, cleared.text
    refused = await register(client, made["slug"])
    assert (refused.status_code, refused.json()["code"]) == (409, "registration_closed")


async def test_the_fast_lane_refuses_an_ended_festival_over_real_http(
    live_server: LiveServer, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain registration is served by the fast lane (api.http.fastlane), which calls
    the same domain function as the route: over a real socket, both refuse alike."""
    from api.http import fastlane

    lane_served: list[str] = []
    serve = fastlane._serve

    async def _watched(lane: fastlane.Lane, *args: Any) -> Any:
        lane_served.append(lane.path)
        return await serve(lane, *args)

    monkeypatch.setattr(fastlane, "_serve", _watched)
    ends_on = _days_ago(2)
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        made, token = await open_festival(
            client, backend.engine, starts_on=_days_ago(3), ends_on=ends_on
        )
        plain = await register(client, made["slug"])
        assert lane_served == ["/api/v1/festivals/{slug}/registrations"]
        routed = await register(client, made["slug"], headers={"Idempotency-Key": "route"})
        assert len(lane_served) == 1  # the Idempotency-Key took the route
        listed = await client.get(
            f"/api/v1/festivals/{made['slug']}/registrations", headers=auth(token)
        )
    assert (plain.status_code, routed.status_code) == (409, 409)
    assert plain.headers["content-type"] == "application/problem+json"
    assert plain.json()["code"] == "registration_closed"
    assert plain.json()["closed_at"] == _closed_at(ends_on)
    assert routed.json() == plain.json()
    assert listed.json()["items"] == []


async def test_a_seat_in_a_session_that_has_ended_cannot_be_reserved(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(
        client, backend.engine, starts_on=_days_ago(1), ends_on=_days_ago(-1)
    )
    now = datetime.now(UTC).replace(microsecond=0)
    over = await programme_session(
        backend.engine,
        made["id"],
        title="Morning lab",
        starts_at=now - timedelta(hours=3),
        minutes=60,
        capacity=5,
    )
    ahead = await programme_session(
        backend.engine, made["id"], starts_at=now + timedelta(hours=2), capacity=5
    )
    token = auth((await registered(client, made["slug"]))["attendee_token"])
    refused = await client.put(f"/api/v1/me/seats/{over}", headers=token)
    assert refused.status_code == 409
    body = refused.json()
    assert (body["code"], body["errors"][0]["field"]) == ("seats_closed", "session_id")
    ended = (now - timedelta(hours=2)).astimezone(AMSTERDAM).isoformat()
    assert body["closed_at"] == ended
    assert body["detail"] == f"'Morning lab' ended at {ended}: its seats can no longer be reserved"
    taken = await client.put(f"/api/v1/me/seats/{ahead}", headers=token)
    assert (taken.status_code, taken.json()["status"]) == (200, "confirmed")
    me = (await client.get("/api/v1/me", headers=token)).json()
    assert [s["session_id"] for s in me["seats"]] == [str(ahead)]


async def test_a_late_registration_window_does_not_reopen_seats_once_the_festival_ended(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    ends_on = _days_ago(2)
    made, _ = await open_festival(
        client,
        backend.engine,
        starts_on=ends_on,
        ends_on=ends_on,
        registration_closes_at=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
    )
    day = datetime.combine(date.fromisoformat(ends_on), time(10), AMSTERDAM)
    workshop = await programme_session(backend.engine, made["id"], starts_at=day, capacity=5)
    token = auth((await registered(client, made["slug"]))["attendee_token"])
    refused = await client.put(f"/api/v1/me/seats/{workshop}", headers=token)
    assert (refused.status_code, refused.json()["code"]) == (409, "seats_closed")
    assert refused.json()["closed_at"] == _closed_at(ends_on)
    assert "the festival ended" in refused.json()["detail"]
