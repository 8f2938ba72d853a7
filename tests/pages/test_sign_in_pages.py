"""Sign-in by e-mailed link in a real browser (issue 17): registered on one device,
in on a second from the captured mail, asking a question under the stream."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Route, expect

from tests.conftest import Backend
from tests.factories.festival import festival
from tests.factories.tickets import letters_to, running_now
from tests.pages.conftest import SQLITE_ONLY, Browsing, World

pytestmark = [pytest.mark.browser, SQLITE_ONLY]
YOUTUBE = "https://youtu.be/dQw4w9WgXcQ"
LINK = re.compile(r"https?://[^/\s]+(/f/[^/\s]+/me#code=fc_[A-Za-z0-9_-]+)")


async def _stub_player(route: Route) -> None:
    """The provider, as far as this test goes: pages never reach the internet."""
    await route.fulfill(content_type="text/html", body="<p>The YouTube player</p>")


async def _sign_in_link(backend: Backend, email: str) -> str:
    """The path of the sign-in link in the newest letter to ``email`` (the captured mail)."""
    for _ in range(200):
        found = [
            m for m in await letters_to(backend.engine, email) if m.kind == "registration.sign_in"
        ]
        if found and (match := LINK.search(found[-1].body)):
            return match.group(1)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no sign-in letter to {email}")


async def test_a_second_device_signs_in_by_the_emailed_link_and_asks_under_the_stream(
    browsing: Browsing, world: World, backend: Backend
) -> None:
    slug = (await festival(world.http, world.organiser_token, name="Online Day", **running_now()))[
        "slug"
    ]
    base = f"/api/v1/festivals/{slug}"
    stage = await world.post(
        f"{base}/rooms", {"name": "Main stage", "kind": "virtual", "stream_url": YOUTUBE}
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    keynote = await world.post(
        f"{base}/sessions",
        {
            "title": "Opening keynote",
            "starts_at": (now - timedelta(minutes=5)).isoformat(),
            "ends_at": (now + timedelta(minutes=55)).isoformat(),
            "room_id": stage["id"],
            "live_qa": True,
        },
    )

    laptop = await browsing.page(f"/f/{slug}/register")
    await laptop.get_by_label("Name").fill("Ada Lovelace")
    await laptop.get_by_label("E-mail").fill("ada@example.org")
    await laptop.get_by_role("button", name="Register").click()
    await expect(laptop.locator("#attendee-name")).to_have_text("Ada Lovelace")

    phone = await browsing.page("/healthz")  # another device: its own browser storage
    await phone.context.route("https://www.youtube-nocookie.com/**", _stub_player)
    await phone.goto(f"/f/{slug}/ticket")
    await expect(phone.locator("#no-token")).to_be_visible()
    await phone.get_by_role("link", name="Send me my link").click()
    # The page's script is in once it has named the festival (a click before would
    # submit the bare form).
    await expect(phone.locator("#festival-name")).to_have_text("Online Day")
    await phone.get_by_label("E-mail you registered with").fill("ada@example.org")
    await phone.get_by_role("button", name="Send me my link").click()
    await expect(phone.locator("#link-sent")).to_contain_text("a sign-in link is on its way")

    await phone.goto(await _sign_in_link(backend, "ada@example.org"))
    await expect(phone).to_have_url(f"{browsing.server.url}/f/{slug}/ticket")
    await expect(phone.locator("#attendee-name")).to_have_text("Ada Lovelace")
    devices = phone.locator("#devices li")
    await expect(devices).to_have_count(2)
    await expect(devices.nth(1)).to_contain_text("this one")
    await browsing.shot(phone, "signed-in-second-device")

    await phone.goto(f"/live/{keynote['id']}?festival={slug}")
    await expect(phone.locator("#player iframe")).to_be_visible()
    await expect(phone.locator("#connection")).to_have_attribute("data-state", "live")
    await phone.get_by_label("Your question").fill("Can we see the slides later?")
    await phone.get_by_role("button", name="Send question").click()
    await expect(phone.locator("#ask-status")).to_contain_text("once a moderator approves")
