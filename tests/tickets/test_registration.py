"""Registration through the API: places, waiting list, e-mails, idempotency, bad input."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from festival.auth import resolve_principal
from festival.db import make_sessionmaker, unit_of_work
from tests.conftest import METRICS_AUTH, Backend, count_queries
from tests.factories.festival import auth
from tests.factories.tickets import open_festival, register, registered
from tickets import issuing, signing


async def test_registration_is_confirmed_while_places_remain_then_waitlisted(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine, capacity=2)
    replies = [await registered(client, made["slug"]) for _ in range(4)]
    assert [r["status"] for r in replies] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    assert [r["waitlist_position"] for r in replies] == [None, None, 1, 2]
    assert replies[0]["ticket"]["qr"]
    assert replies[2]["ticket"] is None
    assert replies[0]["attendee_token"].startswith("fa_")
    assert replies[0]["feed_token"].startswith("ff_")


async def test_same_email_twice_is_409_and_hands_out_no_secret(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine)
    await registered(client, made["slug"], email="ada@example.org")
    again = await register(client, made["slug"], email="  ADA@example.org")
    assert again.status_code == 409
    body = again.json()
    assert body["code"] == "already_registered"
    assert body["errors"][0]["field"] == "email"
    assert "attendee_token" not in again.text
    assert "ff_" not in again.text


async def test_retry_with_idempotency_key_returns_first_reply_and_registers_once(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, token = await open_festival(client, backend.engine)
    headers = {"Idempotency-Key": "retry-1"}
    person = {"name": "Bo", "email": "bo@example.org"}
    first = await register(client, made["slug"], **person, headers=headers)
    second = await register(client, made["slug"], **person, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replay"] == "true"
    listed = await client.get(
        f"/api/v1/festivals/{made['slug']}/registrations", headers=auth(token)
    )
    assert [r["email"] for r in listed.json()["items"]] == ["bo@example.org"]


@pytest.mark.parametrize(
    ("overrides", "detail"),
    [
        ({"registration_opens_at": "2099-01-01T00:00:00+00:00"}, "opens"),
        (
            {
                "registration_opens_at": "2020-01-01T00:00:00+00:00",
                "registration_closes_at": "2020-02-01T00:00:00+00:00",
            },
            "closed",
        ),
    ],
)
async def test_registering_outside_the_window_is_409_and_writes_nothing(
    client: httpx.AsyncClient, backend: Backend, overrides: dict[str, str], detail: str
) -> None:
    made, token = await open_festival(client, backend.engine, **overrides)
    response = await register(client, made["slug"])
    assert response.status_code == 409
    assert response.json()["code"] == "registration_closed"
    assert detail in response.json()["detail"]
    listed = await client.get(
        f"/api/v1/festivals/{made['slug']}/registrations", headers=auth(token)
    )
    assert listed.json()["items"] == []


async def test_registering_for_an_unpublished_festival_is_404(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine, publish=False)
    response = await register(client, made["slug"])
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Ada", "email": "not-an-email"},
        {"name": "Ada", "email": "ada@"},
        {"name": "", "email": "ada@example.org"},
        {"name": "Ada"},
        {"name": "Ada", "email": "ada@example.org", "is_admin": True},
    ],
)
async def test_bad_registration_input_is_422_naming_the_field(
    client: httpx.AsyncClient, backend: Backend, body: dict[str, object]
) -> None:
    made, _ = await open_festival(client, backend.engine)
    response = await client.post(f"/api/v1/festivals/{made['slug']}/registrations", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] in {"email", "name", "is_admin"}


async def test_cancelling_promotes_the_first_on_the_waiting_list(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine, capacity=1)
    first = await registered(client, made["slug"], name="First")
    second = await registered(client, made["slug"], name="Second")
    third = await registered(client, made["slug"], name="Third")
    assert (second["status"], third["waitlist_position"]) == ("waitlisted", 2)
    cancelled = await client.delete(
        "/api/v1/me/registration", headers=auth(first["attendee_token"])
    )
    assert cancelled.status_code == 204
    me2 = (await client.get("/api/v1/me", headers=auth(second["attendee_token"]))).json()
    me3 = (await client.get("/api/v1/me", headers=auth(third["attendee_token"]))).json()
    me1 = await client.get("/api/v1/me", headers=auth(first["attendee_token"]))
    assert me1.status_code == 401  # the token died with the registration (issue 16)
    assert me2["status"] == "confirmed"
    assert me2["ticket"]["qr"]
    assert (me3["status"], me3["waitlist_position"]) == ("waitlisted", 1)
    again = await client.delete("/api/v1/me/registration", headers=auth(first["attendee_token"]))
    assert again.status_code == 401
    me3 = (await client.get("/api/v1/me", headers=auth(third["attendee_token"]))).json()
    assert me3["status"] == "waitlisted"


async def test_cancelled_email_may_register_again(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine)
    first = await registered(client, made["slug"], email="cy@example.org")
    await client.delete("/api/v1/me/registration", headers=auth(first["attendee_token"]))
    again = await registered(client, made["slug"], email="cy@example.org")
    assert again["status"] == "confirmed"
    assert again["id"] != first["id"]


async def test_me_shows_the_attendee_and_refuses_other_tokens(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, token = await open_festival(client, backend.engine)
    reply = await registered(client, made["slug"], name="Dee Attendee", email="dee@example.org")
    me = await client.get("/api/v1/me", headers=auth(reply["attendee_token"]))
    assert me.status_code == 200
    assert (me.json()["name"], me.json()["festival"]) == ("Dee Attendee", made["slug"])
    assert me.json()["ticket"] == reply["ticket"]
    assert (await client.get("/api/v1/me", headers=auth(token))).status_code == 403
    assert (await client.get("/api/v1/me", headers=auth(reply["feed_token"]))).status_code == 401
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_registrations_list_pages_by_status_without_n_plus_one(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, token = await open_festival(client, backend.engine, capacity=3)
    for n in range(5):
        await registered(client, made["slug"], name=f"P{n}")
    url = f"/api/v1/festivals/{made['slug']}/registrations"
    with count_queries(backend.engine) as counter:
        first = (await client.get(f"{url}?status=confirmed&limit=2", headers=auth(token))).json()
    second = (
        await client.get(
            f"{url}?status=confirmed&limit=2&cursor={first['next_cursor']}", headers=auth(token)
        )
    ).json()
    waiting = (await client.get(f"{url}?status=waitlisted", headers=auth(token))).json()
    assert [r["name"] for r in first["items"] + second["items"]] == ["P0", "P1", "P2"]
    assert second["next_cursor"] is None
    assert [r["name"] for r in waiting["items"]] == ["P3", "P4"]
    assert counter.count <= 4  # token, festival, page (+ nothing per row)
    bad = await client.get(f"{url}?status=maybe", headers=auth(token))
    assert bad.status_code == 422


async def test_another_organiser_sees_no_registrations(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine)
    await registered(client, made["slug"], email="secret@example.org")
    _, other = await open_festival(client, backend.engine)
    url = f"/api/v1/festivals/{made['slug']}"
    assert (await client.get(f"{url}/registrations", headers=auth(other))).status_code == 404
    csv_reply = await client.get(f"{url}/attendees.csv", headers=auth(other))
    assert csv_reply.status_code == 404
    assert "secret@example.org" not in csv_reply.text


async def test_attendees_csv_lists_active_registrations_and_defuses_formulas(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, token = await open_festival(client, backend.engine, capacity=1)
    await registered(client, made["slug"], name="=HYPERLINK(1)", email="f@example.org")
    await registered(client, made["slug"], name="Wait Ing", email="w@example.org")
    gone = await registered(client, made["slug"], name="Gone", email="g@example.org")
    await client.delete("/api/v1/me/registration", headers=auth(gone["attendee_token"]))
    reply = await client.get(f"/api/v1/festivals/{made['slug']}/attendees.csv", headers=auth(token))
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    import csv

    rows = list(csv.DictReader(reply.text.splitlines()))
    assert [(r["name"], r["status"]) for r in rows] == [
        ("'=HYPERLINK(1)", "confirmed"),
        ("Wait Ing", "waitlisted"),
    ]


async def test_window_open_now_accepts_registration(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    now = datetime.now(UTC)
    made, _ = await open_festival(
        client,
        backend.engine,
        registration_opens_at=(now - timedelta(days=1)).isoformat(),
        registration_closes_at=(now + timedelta(days=1)).isoformat(),
    )
    assert (await registered(client, made["slug"]))["status"] == "confirmed"


async def test_signing_keys_made_in_a_rolled_back_transaction_are_not_used(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine)
    festival_id = uuid.UUID(made["id"])
    sessionmaker = make_sessionmaker(backend.engine)
    made_keys: list[tuple[bytes, bytes]] = []

    async def doomed_unit_of_work() -> None:
        async with unit_of_work(sessionmaker) as session:
            made_keys.append(await issuing.festival_keys(session, festival_id))
            raise RuntimeError("the unit of work fails after the keys were made")

    with pytest.raises(RuntimeError):
        await doomed_unit_of_work()
    doomed = made_keys[0]
    async with unit_of_work(sessionmaker) as session:
        kept = await issuing.festival_keys(session, festival_id)
    async with unit_of_work(sessionmaker) as session:
        assert await issuing.festival_keys(session, festival_id) == kept
    assert kept != doomed
    reply = await registered(client, made["slug"])
    public = kept[1]
    assert signing.verify(public, signing.parse(reply["ticket"]["qr"]))


async def test_attendee_token_is_labelled_with_the_attendee_name(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine)
    reply = await registered(client, made["slug"], name="Zawadi Njeri")
    async with make_sessionmaker(backend.engine)() as session:
        principal = await resolve_principal(session, reply["attendee_token"])
    assert (principal.kind, principal.label) == ("attendee", "Zawadi Njeri")
    assert str(principal.subject_id) == reply["id"]


async def test_places_are_made_in_chunks_and_new_ones_go_to_the_waiting_list_first(
    client: httpx.AsyncClient, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import func, select

    from tickets import queries
    from tickets.models import Place

    monkeypatch.setattr(queries, "PLACE_CHUNK", 3)
    made, token = await open_festival(client, backend.engine, capacity=7)
    replies = [await registered(client, made["slug"]) for _ in range(9)]
    assert [r["status"] for r in replies] == ["confirmed"] * 7 + ["waitlisted"] * 2
    async with backend.engine.connect() as connection:
        places = await connection.scalar(select(func.count()).select_from(Place))
    assert places == 7
    raised = await client.patch(
        f"/api/v1/festivals/{made['slug']}", json={"capacity": 8}, headers=auth(token)
    )
    assert raised.status_code == 200
    newcomer = await registered(client, made["slug"])
    assert (newcomer["status"], newcomer["waitlist_position"]) == ("waitlisted", 2)
    first_waiting = await client.get("/api/v1/me", headers=auth(replies[7]["attendee_token"]))
    assert first_waiting.json()["status"] == "confirmed"  # the freed place went to the queue


async def test_the_fast_lane_and_the_route_register_alike(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """Plain registrations take the fast lane (api.http.fastlane); one with an
    Idempotency-Key takes the route. Both answer the same shape, and a body that
    is not JSON by its content type is the route's 415."""
    made, _ = await open_festival(client, backend.engine, capacity=1)
    plain = await register(client, made["slug"], name="Lane", email="lane@example.org")
    routed = await register(
        client,
        made["slug"],
        name="Route",
        email="route@example.org",
        headers={"Idempotency-Key": "k-1"},
    )
    assert (plain.status_code, routed.status_code) == (201, 201)
    assert plain.headers["content-type"] == routed.headers["content-type"] == "application/json"
    assert set(plain.json()) == set(routed.json())
    assert (plain.json()["status"], routed.json()["status"]) == ("confirmed", "waitlisted")
    assert routed.json()["waitlist_position"] == 1
    url = f"/api/v1/festivals/{made['slug']}/registrations"
    text = await client.post(
        url,
        content=b'{"name": "Text", "email": "text@example.org"}',
        headers={"Content-Type": "text/plain"},
    )
    assert text.status_code == 415
    assert text.headers["content-type"] == "application/problem+json"
    unknown = await register(client, f"{made['slug']}-nope")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    metrics = (await client.get("/metrics", headers=METRICS_AUTH)).text
    assert 'route="/api/v1/festivals/{slug}/registrations",status="201"' in metrics
