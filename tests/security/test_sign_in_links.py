"""Sign-in by e-mailed link (issue 17), on a real uvicorn: no probing, one use,
devices the attendee can see and end."""

from __future__ import annotations

import asyncio
import re

import httpx

from festival.limits import ACCESS_LINK_ADDRESS
from festival.settings import Settings
from tests.conftest import Backend
from tests.factories.festival import auth
from tests.factories.tickets import letters_to, open_festival, registered
from tests.security.limited import limited, served

SIGN_IN = "/api/v1/auth/attendee"
CODE = re.compile(r"/f/([^/\s]+)/me#code=(fc_[A-Za-z0-9_-]+)")


async def ask(client: httpx.AsyncClient, slug: str, email: str) -> httpx.Response:
    return await client.post(f"/api/v1/festivals/{slug}/access-links", json={"email": email})


async def sign_in_code(backend: Backend, email: str, letters: int = 1) -> str:
    """The code of the newest sign-in letter to ``email``, once ``letters`` have come."""
    for _ in range(100):  # the letter is written after the reply
        found = [
            m for m in await letters_to(backend.engine, email) if m.kind == "registration.sign_in"
        ]
        if len(found) >= letters:
            match = CODE.search(found[-1].body)
            assert match is not None, found[-1].body
            return match.group(2)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no sign-in letter to {email}")


async def test_a_known_and_an_unknown_address_get_the_same_reply_and_only_one_a_letter(
    settings: Settings, backend: Backend
) -> None:
    async with served(settings) as client:
        made, _ = await open_festival(client, backend.engine)
        await registered(client, made["slug"], email="ada@example.org")
        known = await ask(client, made["slug"], "ada@example.org")
        unknown = await ask(client, made["slug"], "nobody@example.org")
        await sign_in_code(backend, "ada@example.org")
        assert known.status_code == unknown.status_code == 202
        assert known.json() == unknown.json()
        assert known.json()["status"] == "sent"
        await asyncio.sleep(0.3)  # time for a letter that should not come
        assert await letters_to(backend.engine, "nobody@example.org") == []
        absent = await ask(client, "no-such-festival", "ada@example.org")
        assert absent.status_code == 404


async def test_the_link_signs_a_second_device_in_once_and_devices_can_be_ended(
    settings: Settings, backend: Backend
) -> None:
    async with served(settings) as client:
        made, _ = await open_festival(client, backend.engine)
        first = await registered(client, made["slug"], email="ada@example.org")
        other = await registered(client, made["slug"], email="bo@example.org")
        await ask(client, made["slug"], "ada@example.org")
        code = await sign_in_code(backend, "ada@example.org")

        signed = await client.post(SIGN_IN, json={"code": code, "device": "Firefox on Android"})
        assert signed.status_code == 201, signed.text
        phone = signed.json()
        me = await client.get("/api/v1/me", headers=auth(phone["attendee_token"]))
        assert me.json()["email"] == "ada@example.org"
        feed = await client.get("/api/v1/me/agenda.ics", params={"token": phone["feed_token"]})
        assert feed.status_code == 200
        again = await client.post(SIGN_IN, json={"code": code})
        assert (again.status_code, again.json()["code"]) == (410, "link_expired")

        listed = await client.get("/api/v1/me/devices", headers=auth(first["attendee_token"]))
        devices = listed.json()
        assert [(d["label"], d["current"]) for d in devices] == [
            ("The device you registered with", True),
            ("Firefox on Android", False),
        ]
        stranger = await client.delete(
            f"/api/v1/me/devices/{devices[1]['id']}", headers=auth(other["attendee_token"])
        )
        assert stranger.status_code == 404
        ended = await client.delete(
            f"/api/v1/me/devices/{devices[1]['id']}", headers=auth(first["attendee_token"])
        )
        assert ended.status_code == 204
        gone = await client.get("/api/v1/me", headers=auth(phone["attendee_token"]))
        assert gone.status_code == 401
        dead_feed = await client.get("/api/v1/me/agenda.ics", params={"token": phone["feed_token"]})
        assert dead_feed.status_code == 404  # feeds answer calendar apps 404 (API.md)
        still = await client.get("/api/v1/me", headers=auth(first["attendee_token"]))
        assert still.status_code == 200


async def test_a_cancelled_registrations_link_is_refused(
    settings: Settings, backend: Backend
) -> None:
    async with served(settings) as client:
        made, _ = await open_festival(client, backend.engine)
        ada = await registered(client, made["slug"], email="ada@example.org")
        await ask(client, made["slug"], "ada@example.org")
        code = await sign_in_code(backend, "ada@example.org")
        cancel = await client.delete("/api/v1/me/registration", headers=auth(ada["attendee_token"]))
        assert cancel.status_code == 204
        refused = await client.post(SIGN_IN, json={"code": code})
        assert (refused.status_code, refused.json()["code"]) == (410, "link_expired")


async def test_a_pending_address_gets_its_confirmation_link_again(
    settings: Settings, backend: Backend
) -> None:
    async with served(settings) as client:
        made, _ = await open_festival(client, backend.engine, confirm_email=True)
        await client.post(
            f"/api/v1/festivals/{made['slug']}/registrations",
            json={"name": "Ada", "email": "ada@example.org"},
        )
        await ask(client, made["slug"], "ada@example.org")
        for _ in range(100):
            kinds = [m.kind for m in await letters_to(backend.engine, "ada@example.org")]
            if len(kinds) == 2:
                break
            await asyncio.sleep(0.05)
    assert kinds == ["registration.confirm", "registration.confirm"]


async def test_links_are_limited_per_address_and_festival(
    settings: Settings, backend: Backend
) -> None:
    async with served(limited(settings)) as client:
        made, _ = await open_festival(client, backend.engine)
        codes = [
            (await ask(client, made["slug"], f"p{n}@example.org")).status_code
            for n in range(ACCESS_LINK_ADDRESS.limit + 1)
        ]
    assert codes == [202] * ACCESS_LINK_ADDRESS.limit + [429]
