"""A festival's team: invitations by e-mail, roles, and an owner who always stays."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from festival.db import make_sessionmaker, unit_of_work
from festival.models import Account, Festival
from tests.conftest import Backend
from tests.factories import festival as ff
from tests.factories.festival import auth
from tests.factories.tickets import fast_organiser, letters_to

API = "/api/v1"
JOIN = re.compile(r"(\S+)/join#code=(fi_[A-Za-z0-9_-]+)")
PASSWORD = "a long enough password"


async def _invite(
    client: httpx.AsyncClient, backend: Backend, owner: str, slug: str, email: str, role: str
) -> str:
    """Invite ``email``; the code from the link in the letter it receives."""
    reply = await client.post(
        f"{API}/festivals/{slug}/members", json={"email": email, "role": role}, headers=auth(owner)
    )
    assert reply.status_code == 201, reply.text
    assert (reply.json()["status"], reply.json()["role"]) == ("invited", role)
    letters = [
        m for m in await letters_to(backend.engine, email.lower()) if m.kind == "team.invitation"
    ]
    found = JOIN.search(letters[-1].body)
    assert found is not None, letters[-1].body
    return found.group(2)


async def test_an_invited_editor_changes_the_programme_and_not_the_attendees(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    owner = await fast_organiser(backend.engine)
    slug = (await ff.festival(client, owner))["slug"]
    code = await _invite(client, backend, owner, slug, "Ed@Example.org", "editor")

    accepted = await client.post(
        f"{API}/invitations/accept", json={"code": code, "password": PASSWORD, "name": "Ed"}
    )
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["festival"], accepted.json()["role"]) == (slug, "editor")
    again = await client.post(
        f"{API}/invitations/accept", json={"code": code, "password": PASSWORD}
    )
    assert again.status_code == 410
    # The account is real: it signs in with the password it chose.
    signed = await client.post(
        f"{API}/auth/token", json={"email": "ed@example.org", "password": PASSWORD}
    )
    assert signed.status_code == 200, signed.text
    editor = auth(signed.json()["access_token"])

    made = await client.post(
        f"{API}/festivals/{slug}/sessions",
        json={
            "title": "Added by the editor",
            "starts_at": "2030-10-08T09:00:00+02:00",
            "ends_at": "2030-10-08T10:00:00+02:00",
        },
        headers=editor,
    )
    assert made.status_code == 201, made.text
    for path in ("attendees.csv", "registrations", "members", "staff-tokens"):
        refused = await client.get(f"{API}/festivals/{slug}/{path}", headers=editor)
        assert refused.status_code == 403, (path, refused.text)
    assert (
        await client.patch(f"{API}/festivals/{slug}", json={}, headers=editor)
    ).status_code == 403

    team = (await client.get(f"{API}/festivals/{slug}/members", headers=auth(owner))).json()
    assert [(m["email"], m["role"], m["status"]) for m in team["items"]][1:] == [
        ("ed@example.org", "editor", "active")
    ]


async def test_an_existing_account_accepts_with_its_own_password(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    owner = await fast_organiser(backend.engine)
    first = (await ff.festival(client, owner))["slug"]
    second = (await ff.festival(client, owner))["slug"]
    code = await _invite(client, backend, owner, first, "vi@example.org", "viewer")
    ok = await client.post(f"{API}/invitations/accept", json={"code": code, "password": PASSWORD})
    assert ok.status_code == 200, ok.text

    code = await _invite(client, backend, owner, second, "vi@example.org", "registrations")
    wrong = await client.post(
        f"{API}/invitations/accept", json={"code": code, "password": "not the password"}
    )
    assert wrong.status_code == 401
    right = await client.post(
        f"{API}/invitations/accept", json={"code": code, "password": PASSWORD}
    )
    assert right.status_code == 200, right.text  # the wrong try did not spend the link
    token = auth(right.json()["access_token"])
    assert (await client.get(f"{API}/festivals/{second}/attendees.csv", headers=token)).is_success
    assert (
        await client.get(f"{API}/festivals/{first}/attendees.csv", headers=token)
    ).status_code == 403


async def test_the_last_owner_stays_and_owner_id_follows_the_owners(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    owner = await fast_organiser(backend.engine)
    made = await ff.festival(client, owner)
    slug, members = made["slug"], f"{API}/festivals/{made['slug']}/members"
    me = (await client.get(members, headers=auth(owner))).json()["items"][0]
    assert me["role"] == "owner"

    demoted = await client.patch(
        f"{members}/{me['id']}", json={"role": "editor"}, headers=auth(owner)
    )
    assert (demoted.status_code, demoted.json()["code"]) == (409, "last_owner")
    removed = await client.delete(f"{members}/{me['id']}", headers=auth(owner))
    assert (removed.status_code, removed.json()["code"]) == (409, "last_owner")

    code = await _invite(client, backend, owner, slug, "co@example.org", "owner")
    joined = await client.post(
        f"{API}/invitations/accept", json={"code": code, "password": PASSWORD}
    )
    co = auth(joined.json()["access_token"])
    # The new owner demotes the first; the festival's owner_id goes with the owners.
    assert (
        await client.patch(f"{members}/{me['id']}", json={"role": "viewer"}, headers=co)
    ).status_code == 200
    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        owner_id = await session.scalar(select(Festival.owner_id).where(Festival.slug == slug))
        co_id = await session.scalar(select(Account.id).where(Account.email == "co@example.org"))
    assert owner_id == co_id
    team = (await client.get(members, headers=co)).json()["items"]
    assert [m["role"] for m in team if m["email"] == "co@example.org"] == ["owner"]
    # The first owner, a viewer now, reads the festival but may not change it.
    assert (await client.get(f"{API}/festivals/{slug}", headers=auth(owner))).status_code == 200
    refused = await client.patch(f"{API}/festivals/{slug}", json={}, headers=auth(owner))
    assert refused.status_code == 403
    last = next(m for m in team if m["email"] == "co@example.org")
    assert (await client.delete(f"{members}/{last['id']}", headers=co)).status_code == 409
