"""Page routes without a browser: every page renders, the short join link, static files."""

from __future__ import annotations

import uuid

import httpx
import pytest

from api.routers.pages import short_code
from tests.pages.conftest import SQLITE_ONLY

pytestmark = SQLITE_ONLY

SESSION = uuid.UUID("5b3e35c4-69cd-4ef3-96ff-177772950acf")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/f/demo",
        "/f/demo/register",
        "/f/demo/ticket",
        f"/live/{SESSION}",
        f"/moderate/{SESSION}",
        f"/present/{SESSION}",
        "/checkin/demo",
    ],
)
async def test_every_page_renders_html_with_its_module(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="http://testserver/static/js/' in response.text


async def test_short_join_link_leads_to_the_live_page(client: httpx.AsyncClient) -> None:
    code = short_code(SESSION)
    assert len(code) == 22
    response = await client.get(f"/j/{code}")
    assert response.status_code == 307
    assert response.headers["location"] == f"/live/{SESSION}"
    page = await client.get(f"/present/{SESSION}")
    assert f"testserver/j/{code}" in page.text


async def test_a_garbled_join_link_is_a_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/j/not-a-code")
    assert response.status_code == 404
    assert "does not lead anywhere" in response.text


@pytest.mark.parametrize("page", ["live", "moderate", "present"])
async def test_a_bad_session_id_in_a_page_path_is_a_404_page(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(f"/{page}/not-a-uuid")
    assert response.status_code == 404
    assert "does not lead anywhere" in response.text


async def test_static_modules_are_served_as_javascript(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/js/socket.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert "since" in response.text
