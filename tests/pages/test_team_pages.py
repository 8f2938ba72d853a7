"""In a real browser: an owner invites an editor, who joins from the e-mail, adds a
session and cannot see the attendees; an attendee downloads and erases their data."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from festival.settings import Settings
from tests.conftest import Backend, free_port
from tests.factories.festival import auth, festival, organiser
from tests.pages.conftest import SQLITE_ONLY, Browsing, World
from tests.tickets.test_outbox import SmtpServer

pytestmark = [pytest.mark.browser, SQLITE_ONLY]
LINK = re.compile(r"https?://[^/\s]+(/join#code=fi_[A-Za-z0-9_-]+)")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on loopback that keeps what it receives."""
    server = SmtpServer(free_port())
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def settings(settings: Settings, smtp: SmtpServer) -> Settings:
    """The live server's settings, sending its letters to ``smtp``."""
    return settings.model_copy(update={"smtp_url": smtp.url})


async def _mail_to(smtp: SmtpServer, address: str) -> str:
    """The text of the first letter ``smtp`` received for ``address`` (waiting for it)."""
    for _ in range(400):
        for message in smtp.inbox.messages:
            if message["To"] == address:
                body = message.get_body(preferencelist=("plain",))
                assert body is not None, message
                text: str = body.get_content()
                return text
        await asyncio.sleep(0.05)
    raise AssertionError(f"no letter to {address}")


async def test_an_owner_invites_an_editor_who_adds_a_session_and_cannot_see_attendees(
    browsing: Browsing, backend: Backend, smtp: SmtpServer
) -> None:
    email = f"owner-{uuid.uuid4().hex[:6]}@example.org"
    _, token = await organiser(backend.engine, email)
    async with httpx.AsyncClient(base_url=browsing.server.url) as http:
        made = await festival(http, token, name="Team Festival", timezone="Europe/Amsterdam")
        slug = made["slug"]
        registered = await http.post(
            f"/api/v1/festivals/{slug}/registrations",
            json={"name": "Private Person", "email": "private@example.org"},
        )
        assert registered.status_code == 201, registered.text

    owner = await browsing.page(f"/organise/{slug}", viewport={"width": 1100, "height": 900})
    await owner.get_by_label("E-mail", exact=True).fill(email)
    await owner.get_by_label("Password").fill("correct horse battery")
    await owner.get_by_role("button", name="Sign in").click()
    await expect(owner.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    editor_email = f"editor-{uuid.uuid4().hex[:6]}@example.org"
    await owner.get_by_label("Their e-mail").fill(editor_email)
    await owner.get_by_label("Role").select_option("editor")
    await owner.get_by_role("button", name="Send invitation").click()
    await expect(owner.locator("#invite-status")).to_have_text(
        f"Invitation sent to {editor_email}."
    )
    await expect(owner.locator("#team")).to_contain_text(f"{editor_email}: editor, invited")
    await browsing.shot(owner, "organise-owner")

    # The editor follows the link in the letter the SMTP server received.
    letter = await _mail_to(smtp, editor_email)
    found = LINK.search(letter)
    assert found is not None, letter
    editor = await browsing.page(found.group(1))
    await editor.get_by_label("Your name").fill("Eddie Editor")
    await editor.get_by_label("Password").fill("editors choose well")
    await editor.get_by_role("button", name="Join the team").click()
    await expect(editor.get_by_role("heading", name="Organise Team Festival")).to_be_visible()
    await expect(editor.get_by_role("heading", name="Team", exact=True)).to_be_hidden()

    await editor.get_by_label("Title").fill("Added by Eddie")
    await editor.get_by_label("Starts (festival time)").fill("2030-10-08T14:00")
    await editor.get_by_label("Ends (festival time)").fill("2030-10-08T15:00")
    await editor.get_by_role("button", name="Add session").click()
    await expect(editor.locator("#session-status")).to_have_text("Added “Added by Eddie”.")
    await expect(editor.locator("#sessions")).to_contain_text("8 Oct 2030, 14:00: Added by Eddie")

    await editor.get_by_role("button", name="Download attendees.csv").click()
    await expect(editor.locator("#attendees-status")).to_have_text(
        "Your role in this team does not include the attendees."
    )
    await browsing.shot(editor, "organise-editor")
    # The session the editor added is the programme's, at 14:00 in Amsterdam (12:00 UTC).
    async with httpx.AsyncClient(base_url=browsing.server.url) as http:
        sessions = (
            await http.get(f"/api/v1/festivals/{slug}/sessions", headers=auth(token))
        ).json()["items"]
    assert [(s["title"], s["starts_at"]) for s in sessions] == [
        ("Added by Eddie", "2030-10-08T14:00:00+02:00")
    ]
    await owner.reload()
    await expect(owner.locator("#team")).to_contain_text(f"Eddie Editor ({editor_email}): editor")


async def test_an_attendee_downloads_their_data_then_erases_it(
    browsing: Browsing, world: World, tmp_path: Path
) -> None:
    reply = await world.register("Dana Private")
    terms = f"/api/v1/festivals/{world.slug}"
    org = auth(world.organiser_token)
    assert (await world.http.patch(terms, json={"terms": "Be kind."}, headers=org)).is_success
    page = await browsing.page(f"/f/{world.slug}/ticket?token={reply['attendee_token']}")
    await expect(page.get_by_role("heading", name="Your data")).to_be_visible()
    # Registered before there were terms: asked now; asked again once they change.
    await expect(page.locator("#consent-terms")).to_have_text("Be kind.")
    await page.get_by_label("I may appear in the festival's photos").check()
    await page.get_by_role("button", name="I agree to these terms").click()
    await expect(page.locator("#data-status")).to_have_text("Thank you: your answer is recorded.")
    await expect(page.get_by_role("heading", name="The festival's terms")).to_be_hidden()
    changed = {"terms": "Be kind. Be on time."}
    assert (await world.http.patch(terms, json=changed, headers=org)).is_success
    await page.reload()
    await expect(page.get_by_text("The terms changed since you last agreed")).to_be_visible()
    await expect(page.get_by_label("I may appear in the festival's photos")).to_be_checked()
    await page.get_by_role("button", name="I agree to these terms").click()
    await expect(page.get_by_role("heading", name="The festival's terms")).to_be_hidden()
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download my data").click()
    saved = tmp_path / "mine.json"
    await (await waiting.value).save_as(saved)
    export = json.loads(saved.read_text())
    assert export["registration"]["name"] == "Dana Private"
    assert export["registration"]["consent"]["photo"] is True

    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Erase my data").click()
    await expect(page.get_by_text("Your data is erased.")).to_be_visible()
    me = await world.http.get("/api/v1/me", headers=auth(reply["attendee_token"]))
    assert me.status_code == 401


async def test_the_registration_form_records_what_was_agreed_to(
    browsing: Browsing, world: World
) -> None:
    org = auth(world.organiser_token)
    made = await world.http.patch(
        f"/api/v1/festivals/{world.slug}", json={"terms": "Photos may be taken."}, headers=org
    )
    assert made.status_code == 200, made.text
    page = await browsing.page(f"/f/{world.slug}/register")
    await expect(page.locator("#terms")).to_have_text("Photos may be taken.")
    await page.get_by_label("Name").fill("Terry Terms")
    await page.get_by_label("E-mail").fill(f"terry-{uuid.uuid4().hex[:6]}@example.org")
    await page.get_by_role("button", name="Register").click()
    await expect(page.locator("#consent-terms-error")).to_have_text(
        "Please agree to the festival's terms to register."
    )
    await page.get_by_label("I agree to these terms").check()
    await page.get_by_label("The organisers may contact me after the event").check()
    await page.get_by_role("button", name="Register").click()
    await expect(page.get_by_role("heading", name="Your data")).to_be_visible()
    await expect(page.get_by_role("heading", name="The festival's terms")).to_be_hidden()
    token = await page.evaluate(f"localStorage.getItem('festival.token.attendee:{world.slug}')")
    consent = (await world.http.get("/api/v1/me/consent", headers=auth(token))).json()
    assert (consent["agreed_terms_version"], consent["photo"], consent["contact"]) == (
        made.json()["terms_version"],
        False,
        True,
    )
    assert consent["asks_again"] is False
