"""An organiser sets a new password from an e-mailed link; nobody learns who has an account."""

from __future__ import annotations

import re

import httpx

from tests.conftest import Backend
from tests.factories.festival import auth, organiser
from tests.factories.tickets import letters_to

API = "/api/v1"
LINK = re.compile(r"/reset#code=(fp_[A-Za-z0-9_-]+)")


async def test_a_reset_link_sets_the_password_and_signs_out_the_other_devices(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, old_token = await organiser(backend.engine, "forgetful@example.org")
    asked = await client.post(f"{API}/auth/password-reset", json={"email": "Forgetful@example.org"})
    nobody = await client.post(f"{API}/auth/password-reset", json={"email": "nobody@example.org"})
    assert (asked.status_code, asked.json()) == (nobody.status_code, nobody.json())
    assert asked.status_code == 202
    assert await letters_to(backend.engine, "nobody@example.org") == []
    again = await client.post(f"{API}/auth/password-reset", json={"email": "forgetful@example.org"})
    assert again.status_code == 202
    letters = await letters_to(backend.engine, "forgetful@example.org")
    assert [m.kind for m in letters] == ["account.password_reset"]  # one per two minutes
    found = LINK.search(letters[0].body)
    assert found is not None, letters[0].body

    new = {"code": found.group(1), "password": "a brand new password"}
    set_ = await client.post(f"{API}/auth/password", json=new)
    assert set_.status_code == 200, set_.text
    assert (await client.post(f"{API}/auth/password", json=new)).status_code == 410
    assert (await client.get(f"{API}/festivals", headers=auth(old_token))).status_code == 401
    fresh = auth(set_.json()["access_token"])
    assert (await client.get(f"{API}/festivals", headers=fresh)).status_code == 200
    signed = await client.post(
        f"{API}/auth/token",
        json={"email": "forgetful@example.org", "password": "a brand new password"},
    )
    assert signed.status_code == 200, signed.text
    old = {"email": "forgetful@example.org", "password": "correct horse battery"}
    assert (await client.post(f"{API}/auth/token", json=old)).status_code == 401
