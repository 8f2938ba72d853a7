"""The door page in a real browser: a ticket checks in once, then is already checked in."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.pages.conftest import SQLITE_ONLY, Browsing, World

# SQLite only (see tests/pages/conftest.py): these pages' data paths are the API's,
# tested on both backends by the API's own tests; the live scenarios run on both.
pytestmark = [pytest.mark.browser, SQLITE_ONLY]


async def test_door_checks_a_ticket_in_then_says_already_checked_in(
    browsing: Browsing, world: World
) -> None:
    ticket = (await world.register("Grace Hopper"))["ticket"]["qr"]
    page = await browsing.page(f"/checkin/{world.slug}?token={world.checkin_token}")
    assert "token=" not in page.url
    await page.get_by_label("Gate").fill("North")
    await page.get_by_label("Ticket code (scan, paste or type)").fill(ticket)
    await page.get_by_role("button", name="Check in").click()
    result = page.locator("#result")
    await expect(result).to_have_attribute("data-result", "ok")
    await expect(page.locator("#result-name")).to_have_text("Grace Hopper")
    await expect(page.get_by_label("Ticket code (scan, paste or type)")).to_have_value("")
    await browsing.shot(page, "checkin-ok")

    await page.get_by_label("Ticket code (scan, paste or type)").fill(ticket)
    await page.get_by_role("button", name="Check in").click()
    await expect(result).to_have_attribute("data-result", "refused")
    await expect(page.locator("#result-title")).to_have_text("Already checked in")
    await expect(page.locator("#result-name")).to_have_text("Grace Hopper")
    await expect(page.locator("#result-reason")).to_contain_text("at gate North")
    await browsing.shot(page, "checkin-already")

    await page.get_by_label("Ticket code (scan, paste or type)").fill("not-a-ticket")
    await page.get_by_role("button", name="Check in").click()
    await expect(page.locator("#result-title")).to_have_text("Not a valid ticket")
    await expect(page.get_by_label("Ticket code (scan, paste or type)")).to_have_value(
        "not-a-ticket"
    )


async def test_door_page_without_a_token_asks_for_one_and_keeps_it(
    browsing: Browsing, world: World
) -> None:
    page = await browsing.page(f"/checkin/{world.slug}")
    await page.get_by_label("Access link or token").fill(
        f"http://example.invalid/checkin/{world.slug}?token={world.checkin_token}"
    )
    await page.get_by_role("button", name="Use it").click()
    await page.reload()
    await expect(page.locator("#token-form")).to_be_hidden()
    await page.get_by_label("Ticket code (scan, paste or type)").fill("garbage")
    await page.get_by_role("button", name="Check in").click()
    await expect(page.locator("#result-title")).to_have_text("Not a valid ticket")
