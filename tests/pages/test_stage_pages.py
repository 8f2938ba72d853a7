"""The stage in a real browser: the stream above the Q&A, and "live now" on the programme."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Page, Route, expect

from tests.factories.festival import festival
from tests.factories.tickets import running_now
from tests.pages.conftest import SQLITE_ONLY, Browsing, World

pytestmark = [pytest.mark.browser, SQLITE_ONLY]
YOUTUBE = "https://youtu.be/dQw4w9WgXcQ"
PLAYER = "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"
ZOOM = "https://zoom.example.org/j/123456789"


def _at(minutes: int) -> str:
    moment = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=minutes)
    return moment.isoformat()


async def _stub_player(route: Route) -> None:
    """The provider, as far as this test goes: pages never reach the internet."""
    await route.fulfill(content_type="text/html", body="<p>The YouTube player</p>")


async def _page_on(browsing: Browsing, path: str) -> Page:
    """A person's page with the provider stubbed before ``path`` loads (the browsing
    fixture refuses every other host, and would count the player as an escape)."""
    page = await browsing.page("/healthz")
    await page.context.route("https://www.youtube-nocookie.com/**", _stub_player)
    await page.goto(path)
    return page


async def test_an_attendee_sees_the_player_or_a_join_button_above_the_qa(
    browsing: Browsing, world: World
) -> None:
    slug = (await festival(world.http, world.organiser_token, name="Online Day", **running_now()))[
        "slug"
    ]
    base = f"/api/v1/festivals/{slug}"

    async def session(title: str, starts: int, **body: Any) -> str:
        made = await world.post(
            f"{base}/sessions",
            {"title": title, "starts_at": _at(starts), "ends_at": _at(starts + 60), **body},
        )
        session_id: str = made["id"]
        return session_id

    stage = await world.post(
        f"{base}/rooms", {"name": "Main stage", "kind": "virtual", "stream_url": YOUTUBE}
    )
    keynote = await session("Opening keynote", -5, room_id=stage["id"], live_qa=True)
    workshop = await session("Hands-on workshop", -5, stream_url=ZOOM)
    later = await session("Closing panel", 120, stream_url=ZOOM)
    registered = await world.http.post(
        f"{base}/registrations", json={"name": "Ada Lovelace", "email": "ada@example.org"}
    )
    assert registered.status_code == 201, registered.text
    ada = registered.json()

    page = await _page_on(
        browsing, f"/live/{keynote}?festival={slug}&token={ada['attendee_token']}"
    )
    player = page.locator("#player iframe")
    await expect(player).to_have_attribute("src", PLAYER)
    await expect(player).to_have_attribute("title", "YouTube player: Opening keynote")
    await expect(
        page.frame_locator("#player iframe").get_by_text("The YouTube player")
    ).to_be_visible()
    await expect(page.get_by_role("link", name="Open in YouTube")).to_have_attribute(
        "href", YOUTUBE
    )
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(page.get_by_role("heading", name="Ask a question")).to_be_visible()
    await browsing.shot(page, "stage-player")

    token = ada["attendee_token"]
    await page.goto(f"/live/{workshop}?festival={slug}&token={token}")
    join = page.get_by_role("link", name="Join the session")
    await expect(join).to_have_attribute("href", ZOOM)
    await expect(page.locator("#player iframe")).to_have_count(0)
    await expect(page.locator("#no-qa")).to_have_text("There is no live Q&A in this session.")

    await page.goto(f"/live/{later}?festival={slug}&token={token}")
    await expect(page.locator("#stage-status")).to_contain_text("The stream opens")
    await expect(page.get_by_role("link", name="Join the session")).to_have_count(0)

    programme = await browsing.page(f"/f/{slug}")
    on_now = programme.locator(f'li.session[data-id="{keynote}"]')
    await expect(on_now.locator(".badge-live")).to_have_text("Live now")
    await expect(programme.locator(f'li.session[data-id="{later}"] .badge-live')).to_be_hidden()
    await expect(on_now.get_by_role("link", name="Join live: Opening keynote")).to_be_visible()
    assert ZOOM not in await programme.content()
