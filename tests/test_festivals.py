"""Festivals through the API: create, read, change, publish, visibility, bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Backend
from tests.factories.festival import auth, festival, festival_body, organiser
from tests.factories.tickets import programme_session


async def test_organiser_creates_and_reads_own_unpublished_festival(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    made = await festival(client, token, publish=False, slug="innofest-2030")
    assert made["published"] is False
    response = await client.get("/api/v1/festivals/innofest-2030", headers=auth(token))
    assert response.status_code == 200
    assert response.json()["timezone"] == "Europe/Amsterdam"


async def test_unpublished_festival_is_hidden_from_others(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, mine = await organiser(backend.engine)
    _, theirs = await organiser(backend.engine)
    await festival(client, mine, publish=False, slug="secret-fest")
    assert (await client.get("/api/v1/festivals/secret-fest")).status_code == 404
    assert (
        await client.get("/api/v1/festivals/secret-fest", headers=auth(theirs))
    ).status_code == 404
    listed = (await client.get("/api/v1/festivals", headers=auth(theirs))).json()["items"]
    assert [f["slug"] for f in listed] == []


async def test_another_organisers_festival_is_404_not_403(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, mine = await organiser(backend.engine)
    _, theirs = await organiser(backend.engine)
    await festival(client, mine, slug="public-fest")
    response = await client.patch(
        "/api/v1/festivals/public-fest", json={"name": "Hijacked"}, headers=auth(theirs)
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get("/api/v1/festivals/public-fest")).json()[
        "name"
    ] == "Innovation Festival"


async def test_published_festival_is_listed_for_everyone(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    await festival(client, token, slug="open-fest")
    await festival(client, token, publish=False, slug="draft-fest")
    anonymous = (await client.get("/api/v1/festivals")).json()["items"]
    assert [f["slug"] for f in anonymous] == ["open-fest"]
    own = (await client.get("/api/v1/festivals", headers=auth(token))).json()["items"]
    assert sorted(f["slug"] for f in own) == ["draft-fest", "open-fest"]


async def test_festival_list_paginates_with_cursor(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    for n in range(5):
        await festival(client, token, slug=f"page-fest-{n}")
    first = (await client.get("/api/v1/festivals?limit=2")).json()
    second = (await client.get(f"/api/v1/festivals?limit=2&cursor={first['next_cursor']}")).json()
    third = (await client.get(f"/api/v1/festivals?limit=2&cursor={second['next_cursor']}")).json()
    slugs = [f["slug"] for page in (first, second, third) for f in page["items"]]
    assert slugs == [f"page-fest-{n}" for n in range(5)]
    assert third["next_cursor"] is None
    bad = await client.get("/api/v1/festivals?cursor=garbage!")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"starts_on": "2030-10-09", "ends_on": "2030-10-08"}, "ends_on"),
        ({"starts_on": "0001-01-01", "ends_on": "9999-12-31"}, "ends_on"),
        ({"unknown": 1}, "unknown"),
        ({"slug": "Not A Slug"}, "slug"),
        ({"mode": "telepathic"}, "mode"),
        ({"capacity": -1}, "capacity"),
    ],
)
async def test_bad_festival_input_is_422_naming_the_field(
    client: httpx.AsyncClient, backend: Backend, overrides: dict[str, object], field: str
) -> None:
    _, token = await organiser(backend.engine)
    response = await client.post(
        "/api/v1/festivals", json=festival_body(**overrides), headers=auth(token)
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422
    assert problem["title"]
    assert field in [e["field"] for e in problem["errors"]]
    assert (await client.get("/api/v1/festivals", headers=auth(token))).json()["items"] == []


async def test_duplicate_slug_is_409(client: httpx.AsyncClient, backend: Backend) -> None:
    _, token = await organiser(backend.engine)
    await festival(client, token, slug="twice")
    response = await client.post(
        "/api/v1/festivals", json=festival_body(slug="twice"), headers=auth(token)
    )
    assert response.status_code == 409
    assert response.json()["errors"] == [{"field": "slug", "message": "The slug 'twice' is taken"}]


async def test_patch_applies_only_given_fields_and_checks_dates(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    await festival(client, token, slug="patchy", description="Keep me")
    ok = await client.patch("/api/v1/festivals/patchy", json={"capacity": 7}, headers=auth(token))
    assert ok.status_code == 200
    assert (ok.json()["capacity"], ok.json()["description"]) == (7, "Keep me")
    bad = await client.patch(
        "/api/v1/festivals/patchy", json={"ends_on": "2030-01-01"}, headers=auth(token)
    )
    assert bad.status_code == 422
    assert (await client.get("/api/v1/festivals/patchy")).json()["ends_on"] == "2030-10-09"


async def test_missing_and_wrong_tokens_are_401(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    body = festival_body()
    assert (await client.post("/api/v1/festivals", json=body)).status_code == 401
    wrong = await client.post("/api/v1/festivals", json=body, headers=auth("fo_nonsense"))
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "unauthorized"


async def test_staff_token_cannot_create_festivals(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    await festival(client, token, slug="staffed")
    issued = await client.post(
        "/api/v1/festivals/staffed/staff-tokens",
        json={"role": "checkin", "label": "Door 1"},
        headers=auth(token),
    )
    assert issued.status_code == 201
    staff = issued.json()["token"]
    assert (
        await client.post("/api/v1/festivals", json=festival_body(), headers=auth(staff))
    ).status_code == 403
    assert (
        await client.patch("/api/v1/festivals/staffed", json={"capacity": 1}, headers=auth(staff))
    ).status_code == 403


async def test_staff_tokens_list_and_revoke(client: httpx.AsyncClient, backend: Backend) -> None:
    _, token = await organiser(backend.engine)
    await festival(client, token, slug="revoking")
    issued = (
        await client.post(
            "/api/v1/festivals/revoking/staff-tokens",
            json={"role": "moderator", "label": "Stage A"},
            headers=auth(token),
        )
    ).json()
    page = (await client.get("/api/v1/festivals/revoking/staff-tokens", headers=auth(token))).json()
    listed = page["items"]
    assert [(t["label"], t["role"]) for t in listed] == [("Stage A", "moderator")]
    assert "token" not in listed[0]
    assert page["next_cursor"] is None
    gone = await client.delete(
        f"/api/v1/festivals/revoking/staff-tokens/{issued['id']}", headers=auth(token)
    )
    assert gone.status_code == 204
    refused = await client.get("/api/v1/festivals/revoking", headers=auth(issued["token"]))
    assert refused.status_code == 401


async def test_staff_token_naming_another_festivals_session_is_422_and_issues_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    _, theirs = await organiser(backend.engine)
    mine = await festival(client, token, slug="scoped")
    other = await festival(client, theirs, slug="not-scoped")
    own = await programme_session(backend.engine, mine["id"])
    foreign = await programme_session(backend.engine, other["id"])
    url = "/api/v1/festivals/scoped/staff-tokens"
    refused = await client.post(
        url,
        json={"role": "moderator", "session_ids": [str(own), str(foreign)]},
        headers=auth(token),
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert (refused.json()["code"], refused.json()["errors"]) == (
        "invalid",
        [{"field": "session_ids", "message": f"No session {foreign} in this festival"}],
    )
    assert (await client.get(url, headers=auth(token))).json()["items"] == []
    issued = await client.post(
        url, json={"role": "moderator", "session_ids": [str(own)]}, headers=auth(token)
    )
    assert (issued.status_code, issued.json()["session_ids"]) == (201, [str(own)])


async def test_staff_token_scope_is_bounded(client: httpx.AsyncClient, backend: Backend) -> None:
    _, token = await organiser(backend.engine)
    made = await festival(client, token, slug="bounded")
    own = await programme_session(backend.engine, made["id"])
    refused = await client.post(
        "/api/v1/festivals/bounded/staff-tokens",
        json={"role": "moderator", "session_ids": [str(own)] * 501},
        headers=auth(token),
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["session_ids"]


async def test_sign_in_gives_a_working_token(client: httpx.AsyncClient, backend: Backend) -> None:
    from festival.auth import create_organiser
    from festival.db import make_sessionmaker, unit_of_work

    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        await create_organiser(session, "Ada@Example.org", "s3cret-pass")
    bad = await client.post(
        "/api/v1/auth/token", json={"email": "ada@example.org", "password": "x"}
    )
    assert bad.status_code == 401
    good = await client.post(
        "/api/v1/auth/token", json={"email": "ada@example.org", "password": "s3cret-pass"}
    )
    assert good.status_code == 200
    token = good.json()["access_token"]
    made = await client.post("/api/v1/festivals", json=festival_body(), headers=auth(token))
    assert made.status_code == 201


@pytest.mark.parametrize("bad", ["\x00", "\x01", "\x1b[31m", "\x7f"])
async def test_control_characters_are_refused_not_a_server_error(
    client: httpx.AsyncClient, backend: Backend, bad: str
) -> None:
    _, token = await organiser(backend.engine)
    await festival(client, token, slug="nul-fest")
    response = await client.post(
        "/api/v1/festivals/nul-fest/staff-tokens",
        json={"role": "checkin", "label": f"Door{bad} 1\twith tab"},
        headers=auth(token),
    )
    assert response.status_code == 422
    assert "label" in response.json()["detail"]


async def test_a_festival_lasts_at_most_a_year_also_when_moved(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """366 days at most (2030-10-08 to 2031-10-08): a thousand-year festival would
    list millions of days in its feeds."""
    _, token = await organiser(backend.engine)
    made = await client.post("/api/v1/festivals", json=festival_body(), headers=auth(token))
    url = f"/api/v1/festivals/{made.json()['slug']}"
    year = await client.patch(url, json={"ends_on": "2031-10-08"}, headers=auth(token))
    assert year.status_code == 200, year.text
    longer = await client.patch(url, json={"ends_on": "2031-10-09"}, headers=auth(token))
    assert longer.status_code == 422
    assert longer.json()["errors"][0]["field"] == "ends_on"
    assert "366 days" in longer.json()["detail"]
    kept = await client.get(url, headers=auth(token))
    assert kept.json()["ends_on"] == "2031-10-08"
