"""Registration without probing (issue 16, finding 3), on a real uvicorn.

A festival with ``confirm_email`` answers every registration with the same
``202``, so nobody learns from the reply whether an address is registered; the
address itself is told, by a letter: a one-time link to confirm, or "you are
registered already". A place is held until the link is followed, and a hold
nobody confirms lapses to the waiting list.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from festival.db import make_sessionmaker, unit_of_work, utcnow
from festival.limits import LETTERS_TO_ADDRESS
from festival.settings import Settings
from tests.conftest import Backend
from tests.factories.festival import auth
from tests.factories.tickets import LINK, letters_to, link_to, open_festival, register
from tests.security.limited import limited, served
from tickets.models import AccessCode, Registration

CONFIRM = "/api/v1/registrations/confirm"


async def registrations(client: httpx.AsyncClient, slug: str, token: str) -> list[dict[str, Any]]:
    listed = await client.get(
        f"/api/v1/festivals/{slug}/registrations", params={"limit": 100}, headers=auth(token)
    )
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


async def test_new_and_known_addresses_get_the_same_reply_and_only_the_owner_learns(
    settings: Settings, backend: Backend
) -> None:
    async with served(settings) as client:
        made, token = await open_festival(client, backend.engine, confirm_email=True)
        slug = made["slug"]
        assert made["confirm_email"] is True
        first = await register(client, slug, name="Ada", email="ada@example.org")
        code = await link_to(backend.engine, "ada@example.org")
        confirmed = await client.post(CONFIRM, json={"code": code})
        assert confirmed.status_code == 201, confirmed.text
        again = await register(client, slug, name="Ada", email="ada@example.org")
        stranger = await register(client, slug, name="Bo", email="bo@example.org")

        for reply in (first, again, stranger):
            assert reply.status_code == 202, reply.text
            assert reply.headers["content-type"] == "application/json"
        assert first.json() == again.json() == stranger.json()
        assert first.json()["status"] == "pending"
        assert "attendee_token" not in first.text

        # Ada's second letter says she is registered and carries no link that works.
        known = (await letters_to(backend.engine, "ada@example.org"))[-1]
        assert known.kind == "registration.known"
        assert "already registered" in known.body
        assert "fc_" not in known.body
        # The link leads to the confirm page of this festival on this server.
        bo = await letters_to(backend.engine, "bo@example.org")
        assert [m.kind for m in bo] == ["registration.confirm"]
        match = LINK.search(bo[0].body)
        assert match is not None
        assert match.group(2) == slug
        assert match.group(1) == settings.base_url.rstrip("/")

        listed = {r["email"]: r["status"] for r in await registrations(client, slug, token)}
    assert listed == {"ada@example.org": "confirmed", "bo@example.org": "pending"}


async def test_the_link_confirms_once_and_its_tokens_work(
    settings: Settings, backend: Backend
) -> None:
    async with served(settings) as client:
        made, _ = await open_festival(client, backend.engine, confirm_email=True)
        await register(client, made["slug"], name="Ada", email="ada@example.org")
        code = await link_to(backend.engine, "ada@example.org")
        page = await client.get(f"/f/{made['slug']}/confirm")
        assert page.status_code == 200
        assert "confirm.js" in page.text

        confirmed = await client.post(CONFIRM, json={"code": code})
        assert confirmed.status_code == 201, confirmed.text
        issued = confirmed.json()
        assert issued["status"] == "confirmed"
        assert issued["ticket"]["qr"]
        me = await client.get("/api/v1/me", headers=auth(issued["attendee_token"]))
        assert me.status_code == 200
        assert me.json()["email"] == "ada@example.org"

        for used in (code, "fc_" + "x" * 43, ""):
            refused = await client.post(CONFIRM, json={"code": used})
            assert refused.status_code in (410, 422), refused.text
            assert refused.headers["content-type"] == "application/problem+json"
        reused = await client.post(CONFIRM, json={"code": code})
        assert (reused.status_code, reused.json()["code"]) == (410, "link_expired")
        kinds = [m.kind for m in await letters_to(backend.engine, "ada@example.org")]
    assert kinds == ["registration.confirm", "registration.confirmed"]


async def _expire_holds(engine: AsyncEngine) -> None:
    """Time passes: every hold is over (as if its minutes had gone by)."""
    past = utcnow() - timedelta(seconds=1)
    async with unit_of_work(make_sessionmaker(engine)) as session:
        await session.execute(
            update(Registration)
            .where(Registration.status == "pending")
            .values(hold_expires_at=past)
        )
        await session.execute(update(AccessCode).values(expires_at=past))


async def test_a_held_place_waits_for_its_owner_then_lapses_to_the_waiting_list(
    settings: Settings, backend: Backend
) -> None:
    async with served(settings) as client:
        made, token = await open_festival(client, backend.engine, confirm_email=True, capacity=1)
        slug = made["slug"]
        await register(client, slug, name="Ada", email="ada@example.org")  # holds the place
        await register(client, slug, name="Bo", email="bo@example.org")
        bo_letter = (await letters_to(backend.engine, "bo@example.org"))[-1]
        assert "full" in bo_letter.body
        bo = await client.post(
            CONFIRM, json={"code": await link_to(backend.engine, "bo@example.org")}
        )
        assert bo.status_code == 201, bo.text
        assert (bo.json()["status"], bo.json()["waitlist_position"]) == ("waitlisted", 1)
        ada_code = await link_to(backend.engine, "ada@example.org")

        await _expire_holds(backend.engine)
        # The next registration lapses the festival's holds first: Ada's place goes to Bo.
        await register(client, slug, name="Cy", email="cy@example.org")
        lapsed = await client.post(CONFIRM, json={"code": ada_code})
        assert lapsed.status_code == 410, lapsed.text
        me = await client.get("/api/v1/me", headers=auth(bo.json()["attendee_token"]))
        assert me.json()["status"] == "confirmed"
        listed = {r["email"]: r["status"] for r in await registrations(client, slug, token)}
        bo_kinds = [m.kind for m in await letters_to(backend.engine, "bo@example.org")]
    # Ada's unconfirmed registration is gone; Cy waits on her own link.
    assert listed == {"bo@example.org": "confirmed", "cy@example.org": "pending"}
    assert bo_kinds == ["registration.confirm", "registration.waitlisted", "registration.promoted"]


async def test_the_form_cannot_flood_an_inbox(settings: Settings, backend: Backend) -> None:
    async with served(limited(settings)) as client:
        made, _ = await open_festival(client, backend.engine, confirm_email=True)
        replies = [
            await register(client, made["slug"], email="ada@example.org")
            for _ in range(LETTERS_TO_ADDRESS.limit + 3)
        ]
        sent = await letters_to(backend.engine, "ada@example.org")
    assert {r.status_code for r in replies} == {202}
    assert len({r.text for r in replies}) == 1
    assert len(sent) == LETTERS_TO_ADDRESS.limit


async def test_one_address_at_once_makes_one_registration(
    settings: Settings, backend: Backend
) -> None:
    async with served(settings) as client:
        made, token = await open_festival(client, backend.engine, confirm_email=True)
        replies = await asyncio.gather(
            *(register(client, made["slug"], email="ada@example.org") for _ in range(8))
        )
        listed = await registrations(client, made["slug"], token)
    assert [r.status_code for r in replies] == [202] * 8
    assert [r["status"] for r in listed] == ["pending"]
