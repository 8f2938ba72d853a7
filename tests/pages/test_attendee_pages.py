"""The attendee's pages in a real browser: festivals, programme, registration and ticket."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.conftest import Backend
from tests.factories.festival import festival
from tests.factories.tickets import link_to
from tests.pages.conftest import SQLITE_ONLY, Browsing, World

# SQLite only (see tests/pages/conftest.py): these pages' data paths are the API's,
# tested on both backends by the API's own tests; the live scenarios run on both.
pytestmark = [pytest.mark.browser, SQLITE_ONLY]


async def test_programme_shows_days_in_the_festival_zone_with_calendar_links(
    browsing: Browsing, world: World
) -> None:
    page = await browsing.page("/")
    await page.get_by_role("link", name="Innovation Festival 2030").first.click()
    await expect(page.locator("#festival-name")).to_have_text("Innovation Festival 2030")
    keynote = page.locator(f'li.session[data-id="{world.keynote_id}"]')
    # 07:30 UTC is 09:30 in Amsterdam (summer time on 8 October 2030).
    await expect(keynote.locator(".time")).to_have_text("09:30\u201310:30")
    await expect(page.get_by_role("heading", name="Tuesday 8 October")).to_be_visible()
    await expect(page.get_by_role("heading", name="Wednesday 9 October")).to_be_visible()
    await expect(keynote).to_contain_text("Amina Diallo (Open Seeds)")
    await expect(keynote).to_contain_text("Main Hall")

    subscribe = page.get_by_role("link", name="Subscribe to Digital Futures in your calendar app")
    href = await subscribe.get_attribute("href")
    assert href == (
        f"webcal://{browsing.server.url.split('://')[1]}/api/v1/festivals/{world.slug}"
        f"/calendar.ics?track={world.track_id}"
    )
    download = page.get_by_role("link", name="Download Whole programme as .ics")
    reply = await page.request.get(await download.get_attribute("href") or "")
    assert reply.status == 200
    assert "BEGIN:VCALENDAR" in await reply.text()

    await page.get_by_label("Track").select_option(label="Food Systems")
    await expect(page.locator("li.session")).to_have_count(1)
    await expect(page.locator("li.session h3")).to_have_text("Prototyping with farmers")
    await page.get_by_label("Track").select_option(label="All tracks")
    await expect(page.locator("li.session")).to_have_count(2)
    await browsing.shot(page, "programme")
    home = await browsing.page("/", viewport={"width": 1100, "height": 700})
    await expect(home.locator("#festivals li")).not_to_have_count(0)
    await browsing.shot(home, "home")


async def test_registration_shows_problems_next_to_fields_and_keeps_what_was_typed(
    browsing: Browsing, world: World
) -> None:
    taken = await world.register("Grace Hopper")
    me = await world.http.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {taken['attendee_token']}"}
    )
    page = await browsing.page(f"/f/{world.slug}/register")
    await page.get_by_label("Name").fill("Ada Lovelace")
    await page.get_by_label("E-mail").fill("not an address")
    await page.get_by_label("Organisation").fill("Analytical Engines")
    await page.get_by_role("button", name="Register").click()
    await expect(page.locator("#email-error")).to_contain_text("not an e-mail address")
    await expect(page.get_by_label("Name")).to_have_value("Ada Lovelace")
    await expect(page.get_by_label("E-mail")).to_have_attribute("aria-invalid", "true")

    await page.get_by_label("E-mail").fill(me.json()["email"])
    await page.get_by_role("button", name="Register").click()
    await expect(page.locator("#email-error")).not_to_be_empty()
    await expect(page.locator("#form-problem")).to_contain_text("already registered")
    await expect(page.get_by_label("Organisation")).to_have_value("Analytical Engines")
    await browsing.shot(page, "register-problem")


async def test_attendee_registers_and_sees_a_qr_code_then_reserves_favourites_and_cancels(
    browsing: Browsing, world: World
) -> None:
    page = await browsing.page(f"/f/{world.slug}/register")
    await page.get_by_label("Name").fill("Ada Lovelace")
    await page.get_by_label("E-mail").fill("ada@example.org")
    await page.get_by_label("E-mail").press("Enter")  # the keyboard is enough

    await expect(page).to_have_url(f"{browsing.server.url}/f/{world.slug}/ticket")
    await expect(page.locator("#attendee-name")).to_have_text("Ada Lovelace")
    await expect(page.locator("#ticket-status")).to_have_text("Confirmed: you have a place")
    qr = page.get_by_role("img", name="QR code of your ticket: show it at the door")
    await expect(qr).to_be_visible()
    await page.wait_for_function("document.getElementById('qr').naturalWidth > 0")
    agenda = await page.get_by_label("Agenda feed link").input_value()
    assert "/api/v1/me/agenda.ics?token=" in agenda
    assert (await page.request.get(agenda)).status == 200
    await page.get_by_role("button", name="Copy link").click()
    await expect(page.locator("#copy-status")).not_to_be_empty()

    workshop = page.locator(f'#sessions li[data-id="{world.workshop_id}"]')
    await workshop.get_by_role("button", name="Reserve seat: Prototyping with farmers").click()
    await expect(workshop).to_contain_text("Seat reserved")
    await workshop.get_by_role("button", name="Favourite: Prototyping with farmers").click()
    await expect(workshop.locator('[data-do="favourite"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    await browsing.shot(page, "ticket")

    await page.get_by_role(
        "link", name="Live Q&A: Shifting the power in digital partnerships"
    ).click()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Live Q&A: Shifting the power in digital partnerships"
    )
    await page.go_back()
    workshop = page.locator(f'#sessions li[data-id="{world.workshop_id}"]')
    await expect(workshop).to_contain_text("Seat reserved")
    await expect(workshop.locator('[data-do="favourite"]')).to_have_attribute(
        "aria-pressed", "true"
    )

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Cancel my registration").click()
    await expect(page.locator("#ticket-status")).to_have_text("Cancelled")
    await expect(page.locator("#qr-figure")).to_be_hidden()


async def test_waitlisted_attendee_sees_the_position_from_a_magic_link(
    browsing: Browsing, world: World
) -> None:
    small = await festival(world.http, world.organiser_token, capacity=1, name="Small Festival")
    slug = small["slug"]
    for name in ("First Comer", "Second Comer"):
        body = {"name": name, "email": f"{name.split()[0].lower()}@example.org"}
        reply = await world.post(f"/api/v1/festivals/{slug}/registrations", body)
    assert reply["status"] == "waitlisted"
    page = await browsing.page(f"/f/{slug}/ticket?token={reply['attendee_token']}")
    await expect(page.locator("#ticket-status")).to_have_text("On the waiting list, position 1")
    assert page.url == f"{browsing.server.url}/f/{slug}/ticket", "the token left the address bar"
    await expect(page.locator("#qr-figure")).to_be_hidden()
    await page.reload()
    await expect(page.locator("#attendee-name")).to_have_text("Second Comer")
    await browsing.shot(page, "ticket-waitlisted")
    await page.get_by_role("button", name="Make a new agenda link").click()  # none on this device
    agenda = page.get_by_label("Agenda feed link")
    await expect(agenda).to_have_value(re.compile(r"/api/v1/me/agenda\.ics\?token=\S+"))
    assert (await page.request.get(await agenda.input_value())).status == 200


async def test_a_festival_that_confirms_addresses_sends_the_ticket_through_the_emailed_link(
    browsing: Browsing, world: World, backend: Backend
) -> None:
    patched = await world.http.patch(
        f"/api/v1/festivals/{world.slug}",
        json={"confirm_email": True},
        headers={"Authorization": f"Bearer {world.organiser_token}"},
    )
    assert patched.status_code == 200, patched.text
    page = await browsing.page(f"/f/{world.slug}/register")
    await page.get_by_label("Name").fill("Ada Lovelace")
    await page.get_by_label("E-mail").fill("ada@example.org")
    await page.get_by_role("button", name="Register").click()
    await expect(page.get_by_role("status")).to_contain_text("Check your e-mail")
    await expect(page.locator("#register")).to_be_hidden()

    code = await link_to(backend.engine, "ada@example.org")
    link = f"/f/{world.slug}/confirm#code={code}"
    await page.goto(browsing.server.url + link)
    await expect(page).to_have_url(f"{browsing.server.url}/f/{world.slug}/ticket")
    await expect(page.locator("#attendee-name")).to_have_text("Ada Lovelace")
    await expect(page.locator("#ticket-status")).to_have_text("Confirmed: you have a place")

    again = await browsing.page(link)  # a second click on the same link
    await expect(again.get_by_role("alert")).to_contain_text("used already or has expired")
    await expect(again.get_by_role("link", name="Register again")).to_be_visible()


async def test_a_hybrid_festival_asks_participation_and_its_questions_with_errors_by_the_field(
    browsing: Browsing, world: World
) -> None:
    made = await festival(world.http, world.organiser_token, name="Hybrid Days", mode="hybrid")
    base = f"/api/v1/festivals/{made['slug']}/questions"
    diet = await world.post(
        base, {"kind": "choice", "label": "Diet", "required": True, "choices": ["none", "vegan"]}
    )
    await world.post(base, {"kind": "text", "label": "Access needs", "help": "We prepare it"})
    page = await browsing.page(f"/f/{made['slug']}/register")
    await expect(page.get_by_role("group", name="How will you take part?")).to_be_visible()
    await page.get_by_label("Name").fill("Ada Lovelace")
    await page.get_by_label("E-mail").fill("ada@example.org")
    await page.get_by_label("Online, on the stream").check()
    await page.get_by_label("Access needs (optional)").fill("Captions, please")
    await page.get_by_role("button", name="Register").click()
    # The required question unanswered: said next to it, and nothing typed is lost.
    error = page.locator(f'[data-error-for="answers.{diet["id"]}"]')
    await expect(error).to_contain_text("'Diet' is required")
    await expect(page.get_by_label("Access needs (optional)")).to_have_value("Captions, please")
    await page.get_by_role("group", name="Diet").get_by_label("vegan").check()
    await page.get_by_role("button", name="Register").click()
    await expect(page.locator("#attendee-name")).to_have_text("Ada Lovelace")
    await expect(page.locator("#participation")).to_contain_text("Online")
    answers = page.locator("#answers")
    await expect(answers).to_contain_text("Diet")
    await expect(answers).to_contain_text("vegan")
    await expect(answers).to_contain_text("Captions, please")
    await browsing.shot(page, "hybrid-ticket")
