"""Live Q&A, polls, the moderator and the projector: several people in one real browser."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.pages.conftest import Browsing, World

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1280, "height": 800}
SECOND = 1000  # ms: what the issue promises between a moderator's click and every screen


async def connected(*pages: Page) -> None:
    for page in pages:
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")


async def test_question_approved_and_highlighted_reaches_other_attendee_and_projector(
    browsing: Browsing, world: World
) -> None:
    sid = world.keynote_id
    ada, bob = await world.register("Ada Lovelace"), await world.register("Bob Okafor")
    asker = await browsing.page(f"/live/{sid}?token={ada['attendee_token']}")
    other = await browsing.page(f"/live/{sid}?token={bob['attendee_token']}")
    moderator = await browsing.page(
        f"/moderate/{sid}?token={world.moderator_token}", viewport=DESKTOP
    )
    projector = await browsing.page(await world.projector_url(sid), viewport=DESKTOP)
    await connected(asker, other, moderator, projector)
    assert "token=" not in asker.url, "the magic link's token stays out of the address bar"

    text = "How do we share the data fairly?"
    await asker.get_by_label("Your question").fill(text)
    await asker.get_by_label("Ask anonymously").check()
    await asker.get_by_role("button", name="Send question").click()
    await expect(asker.locator("#ask-status")).to_contain_text("once a moderator approves")
    await expect(asker.get_by_label("Your question")).to_have_value("")

    queued = moderator.locator("#queue li", has_text=text)
    await expect(queued).to_contain_text("Anonymous")
    await expect(other.locator("#questions li")).to_have_count(0)
    await queued.get_by_role("button", name=re.compile("^Approve:")).click()
    shown = other.locator("#questions li", has_text=text)
    await expect(shown).to_be_visible(timeout=SECOND)
    await expect(shown).to_contain_text("Anonymous")

    await moderator.get_by_label("Approved").check()
    await (
        moderator.locator("#queue li", has_text=text)
        .get_by_role("button", name=re.compile("^Highlight:"))
        .click()
    )
    await expect(other.locator("#highlight-text")).to_have_text(text, timeout=SECOND)
    await expect(projector.locator("#highlight-text")).to_have_text(text, timeout=SECOND)
    await expect(asker.locator("#highlight-text")).to_have_text(text, timeout=SECOND)

    await shown.get_by_role("button", name=re.compile("^Upvote")).click()
    await expect(shown.locator("button.vote")).to_have_attribute("aria-pressed", "true")
    await expect(asker.locator("#questions li button.vote")).to_have_attribute("data-votes", "1")
    await expect(moderator.locator("#queue li", has_text=text)).to_contain_text("1 vote")

    await browsing.shot(other, "live")
    await browsing.shot(moderator, "moderate")
    await browsing.shot(projector, "present-question", full_page=False)

    card = moderator.locator("#queue li", has_text=text)
    await card.get_by_role("button", name="Edit").click()
    edited = "How do we share the data fairly, and who decides?"
    await card.get_by_label("Edit the question").fill(edited)
    await shown.get_by_role("button", name=re.compile("^Take back your vote")).click()
    await expect(card).to_contain_text("0 votes")
    await expect(card.get_by_label("Edit the question")).to_have_value(edited)  # not redrawn
    await card.get_by_role("button", name="Save").click()
    await expect(projector.locator("#highlight-text")).to_have_text(edited, timeout=SECOND)
    await expect(other.locator("#questions li .question-text")).to_have_text(edited)

    short = await projector.locator(".short-url").text_content()
    await other.goto(f"http://{short}")  # the join link on the screen, as typed from the back
    await expect(other).to_have_url(f"{browsing.server.url}/live/{sid}")
    await expect(other.locator("#highlight-text")).to_have_text(edited)

    async with moderator.expect_download() as download:
        await moderator.get_by_role("button", name="Download questions (CSV)").click()
    csv = (await download.value).path()
    assert edited in (await asyncio.to_thread(Path(await csv).read_text))


async def test_poll_answered_in_two_contexts_shows_exact_counts_on_the_projector(
    browsing: Browsing, world: World
) -> None:
    sid = world.keynote_id
    ada, bob = await world.register("Ada Lovelace"), await world.register("Bob Okafor")
    moderator = await browsing.page(
        f"/moderate/{sid}?token={world.moderator_token}", viewport=DESKTOP
    )
    first = await browsing.page(f"/live/{sid}?token={ada['attendee_token']}")
    second = await browsing.page(f"/live/{sid}?token={bob['attendee_token']}")
    projector = await browsing.page(await world.projector_url(sid), viewport=DESKTOP)
    await connected(moderator, first, second, projector)

    await moderator.get_by_label("Question", exact=True).fill("Which harvest tool first?")
    await moderator.get_by_label("Options, one per line").fill(
        "Soil sensor\nWeather SMS\nMarket app"
    )
    await moderator.get_by_role("button", name="Create poll").click()
    card = moderator.locator("article.poll", has_text="Which harvest tool first?")
    await card.get_by_role("button", name="Open poll").click()
    await expect(card).to_have_attribute("data-status", "open")

    await expect(first.locator("article.poll")).to_be_visible(timeout=SECOND)
    await first.get_by_label("Weather SMS").check()  # filled in, not sent yet
    await second.get_by_label("Weather SMS").check()
    await second.get_by_role("button", name="Send answer").click()
    await expect(second.locator("article.poll")).to_contain_text("Your answer was counted")
    sms = projector.locator("#poll-results li[data-count]", has_text="Weather SMS")
    await expect(sms).to_have_attribute("data-count", "1")
    await expect(first.get_by_label("Weather SMS")).to_be_checked()  # results did not wipe it

    await first.get_by_label("Soil sensor").check()
    await first.get_by_role("button", name="Send answer").click()
    await expect(first.locator("article.poll")).to_contain_text("Your answer was counted")
    await expect(projector.locator("#poll-results li", has_text="Soil sensor")).to_have_attribute(
        "data-count", "1"
    )
    await expect(sms).to_have_attribute("data-count", "1")
    await expect(projector.locator("#poll-results li", has_text="Market app")).to_have_attribute(
        "data-count", "0"
    )
    await expect(projector.locator("#poll-results .total")).to_have_text("2 answers")
    await expect(card.locator(".total")).to_have_text("2 answers")
    await expect(first.locator("article.poll .total")).to_have_text("2 answers")
    await browsing.shot(projector, "present-poll", full_page=False)
    await browsing.shot(first, "live-poll")

    await card.get_by_role("button", name="Close poll").click()
    await expect(first.locator("article.poll")).to_have_attribute("data-status", "closed")
    await expect(first.get_by_label("Soil sensor")).to_be_disabled()
    await expect(first.get_by_label("Soil sensor")).to_be_checked()

    await moderator.get_by_label("Question", exact=True).fill("One word for this festival?")
    await moderator.get_by_label("Kind").select_option("text")
    await moderator.get_by_role("button", name="Create poll").click()
    words = moderator.locator("article.poll", has_text="One word for this festival?")
    await words.get_by_role("button", name="Open poll").click()
    for page, answer in ((first, "Inspiring soil"), (second, "soil")):
        ballot = page.locator("article.poll", has_text="One word for this festival?")
        await ballot.get_by_label("Your answer").fill(answer)
        await ballot.get_by_role("button", name="Send answer").click()
        await expect(ballot).to_contain_text("Your answer was counted")
    cloud = projector.locator("#poll-results .word")
    await expect(cloud.filter(has_text="soil")).to_have_attribute("data-count", "2")
    await expect(cloud.filter(has_text="inspiring")).to_have_attribute("data-count", "1")
    await browsing.shot(projector, "present-words", full_page=False)


async def test_reloaded_or_reconnected_live_page_resumes_without_duplicates(
    browsing: Browsing, world: World
) -> None:
    sid = world.keynote_id
    ada, bob = await world.register("Ada Lovelace"), await world.register("Bob Okafor")
    response = await world.http.patch(
        f"/api/v1/sessions/{sid}/live",
        json={"pre_moderation": False},
        headers={"Authorization": f"Bearer {world.moderator_token}"},
    )
    assert response.status_code == 200, response.text
    page = await browsing.page(f"/live/{sid}?token={ada['attendee_token']}")
    other = await browsing.page(f"/live/{sid}?token={bob['attendee_token']}")
    await connected(page, other)
    for text in ("First question", "Second question"):
        await other.get_by_label("Your question").fill(text)
        await other.get_by_role("button", name="Send question").click()
        await expect(page.locator("#questions li", has_text=text)).to_have_count(1)

    await page.get_by_label("Your question").fill("Half-typed thought")
    await page.reload()
    await connected(page)
    await expect(page.locator("#questions li")).to_have_count(2)
    await expect(page.get_by_label("Your question")).to_have_value("Half-typed thought")

    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await page.evaluate("window.festivalSocket.ws.close()")
    await other.get_by_label("Your question").fill("Asked while you were away")
    await other.get_by_role("button", name="Send question").click()
    await expect(page.locator("#questions li", has_text="Asked while you were away")).to_have_count(
        1
    )
    await connected(page)
    assert sockets, "the page reconnected by itself"
    assert re.search(r"[?&]since=\d+", sockets[0]), sockets
    await expect(page.locator("#questions li")).to_have_count(3)
    await expect(page.get_by_label("Your question")).to_have_value("Half-typed thought")
    await page.get_by_label("Newest").check()
    await expect(page.locator("#questions li .question-text").first).to_have_text(
        "Asked while you were away"
    )


async def test_lost_connection_is_shown_and_nothing_typed_or_picked_is_lost(
    browsing: Browsing, world: World
) -> None:
    sid = world.keynote_id
    ada = await world.register("Ada Lovelace")
    moderator_token = world.moderator_token
    poll = await world.post(
        f"/api/v1/sessions/{sid}/polls",
        {"question": "Rate the keynote", "kind": "rating", "scale": 5},
        token=moderator_token,
    )
    await world.post(f"/api/v1/sessions/{sid}/polls/{poll['id']}/open", token=moderator_token)
    page = await browsing.page(f"/live/{sid}?token={ada['attendee_token']}")
    await connected(page)
    await page.get_by_label("4").check()
    await page.get_by_label("Your question").fill("Will the slides be shared?")

    await page.context.set_offline(True)
    await page.evaluate("window.festivalSocket.ws.close()")
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", re.compile("reconnecting|offline")
    )
    await expect(page.locator("#connection-text")).to_contain_text("Reconnecting in")
    await page.get_by_role("button", name="Send question").click()
    await expect(page.locator("#question-text-error")).to_contain_text("Not connected")
    await expect(page.get_by_label("Your question")).to_have_value("Will the slides be shared?")
    await browsing.shot(page, "live-reconnecting", full_page=False)

    await page.context.set_offline(False)
    await connected(page)
    await expect(page.get_by_label("4")).to_be_checked()
    await page.get_by_role("button", name="Send question").click()
    await expect(page.locator("#ask-status")).to_contain_text("Thanks!")
    await expect(page.get_by_label("Your question")).to_have_value("")
    await page.get_by_role("button", name="Send answer").click()
    await expect(page.locator("article.poll")).to_contain_text("Your answer was counted")
    await expect(page.locator("article.poll .average")).to_have_text("Average 4")


async def test_a_token_that_may_not_join_is_explained_and_another_can_be_pasted(
    browsing: Browsing, world: World
) -> None:
    sid = world.keynote_id
    ada = await world.register("Ada Lovelace")
    page = await browsing.page(f"/live/{sid}?token={world.checkin_token}")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "denied")
    await expect(page.locator("#problem")).to_contain_text("You cannot join this session")
    await page.get_by_label("Access link or token").fill(
        f"{browsing.server.url}/live/{sid}?token={ada['attendee_token']}"
    )
    await page.get_by_role("button", name="Use it").click()
    await connected(page)
    await expect(page.locator("#problem")).to_be_hidden()
    await page.reload()
    await connected(page)
