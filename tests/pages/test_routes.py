"""Page routes without a browser: every page renders, the short join link, static files,
and a 404 page for people when the festival or session of a link does not exist."""

from __future__ import annotations

import uuid

import httpx
import pytest

from api.routers.pages import short_code
from tests.conftest import Backend
from tests.factories import schedule as sf
from tests.factories.festival import festival, organiser
from tests.pages.conftest import SQLITE_ONLY

pytestmark = SQLITE_ONLY

PAGES = [
    "/f/{slug}",
    "/f/{slug}/register",
    "/f/{slug}/ticket",
    "/live/{session}",
    "/moderate/{session}",
    "/present/{session}",
    "/checkin/{slug}",
    "/organise/{slug}",
]


async def _programme(
    client: httpx.AsyncClient, backend: Backend, *, publish: bool = True
) -> tuple[str, str]:
    """A festival's slug and the id of a session in it."""
    _, token = await organiser(backend.engine)
    slug = (await festival(client, token, publish=publish))["slug"]
    made = await sf.session(
        client, token, slug, "2030-10-08T09:00:00+02:00", "2030-10-08T10:00:00+02:00"
    )
    return slug, made["id"]


async def test_every_page_renders_html_with_its_module(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    slug, session_id = await _programme(client, backend)
    for path in ["/", *PAGES]:
        response = await client.get(path.format(slug=slug, session=session_id))
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="http://testserver/static/js/' in response.text


async def test_the_pages_of_an_unpublished_festival_render_for_its_tokens(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """The server never sees the browser's token, so the API decides what the page shows."""
    slug, session_id = await _programme(client, backend, publish=False)
    for path in PAGES:
        response = await client.get(path.format(slug=slug, session=session_id))
        assert response.status_code == 200, path


async def test_an_unknown_festival_or_session_is_a_404_page_for_people(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    await _programme(client, backend)  # data that could leak into the wrong page
    for path in PAGES:
        response = await client.get(path.format(slug="no-such-festival", session=uuid.uuid4()))
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        page = response.text
        assert "does not lead anywhere" in page
        assert "<h1>Not found</h1>" in page
        assert '<a href="/">the festivals</a>' in page
        assert 'href="http://testserver/static/festival.css"' in page  # the look of every page
        assert "<script" not in page  # nothing to run, nothing to fail
        what = "festival" if "{slug}" in path else "session"
        assert f"There is no {what} at this address." in page


async def test_short_join_link_leads_to_the_live_page(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, session_id = await _programme(client, backend)
    code = short_code(uuid.UUID(session_id))
    assert len(code) == 22
    response = await client.get(f"/j/{code}")
    assert response.status_code == 307
    assert response.headers["location"] == f"/live/{session_id}"
    page = await client.get(f"/present/{session_id}")
    assert f"testserver/j/{code}" in page.text


async def test_a_garbled_join_link_is_a_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/j/not-a-code")
    assert response.status_code == 404
    assert "does not lead anywhere" in response.text


@pytest.mark.parametrize(
    "path",
    ["/live/not-a-uuid", "/moderate/not-a-uuid", "/present/not-a-uuid", "/f/not%20a%20slug"],
)
async def test_a_malformed_id_or_slug_in_a_page_path_is_a_404_page(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert "does not lead anywhere" in response.text


async def test_static_modules_are_served_as_javascript(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/js/socket.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert "since" in response.text
