"""Browser fixtures: Debian's Chromium driven by Playwright against a real uvicorn.

No browser is downloaded: Playwright launches ``/usr/bin/chromium`` (or
``FESTIVAL_CHROMIUM``). A machine without it fails these tests instead of
skipping them, because CI installs it. Every page is kept from the internet:
a request to any host but the test server fails the test.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.conftest import SQLITE_ONLY, Backend, LiveServer
from tests.factories.festival import auth, festival, organiser

CHROMIUM = Path(os.environ.get("FESTIVAL_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
AUDIT = (Path(__file__).resolve().parent / "audit.js").read_text()
PHONE = {"width": 390, "height": 844}
# A Content-Security-Policy violation (an inline script or style, a host not
# allowed) is only a console message; thrown, it is a page error the tests see.
CSP_WATCH = """document.addEventListener("securitypolicyviolation", (e) => setTimeout(() => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  throw new Error(`CSP: ${e.violatedDirective} refused ${e.blockedURI || "inline"} (${where})`);
}));"""
# Both backends make the browser suite too slow for the shared machine: the
# single-person pages run on SQLite only (their data paths are the API's, tested
# on both backends by the API's tests); the multi-person live scenarios run on both.
__all__ = ["SQLITE_ONLY", "Browsing", "World"]


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (CI installs it)")


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    _require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        await browser.close()


@dataclass
class Browsing:
    """Browser contexts (one per person) on the live server, checked for errors at the end."""

    browser: Browser
    server: LiveServer
    backend: str
    contexts: list[BrowserContext] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    async def page(self, path: str, *, viewport: dict[str, int] | None = None) -> Page:
        """A new person (own context, own storage) opening ``path``."""
        context = await self.browser.new_context(
            base_url=self.server.url,
            viewport=viewport or PHONE,  # type: ignore[arg-type]
        )
        await context.route(
            re.compile(r"^(?!https?://127\.0\.0\.1[:/]|wss?://127\.0\.0\.1[:/])"), self._refuse
        )
        await context.add_init_script(CSP_WATCH)
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        await page.goto(path)
        return page

    async def _refuse(self, route: Any) -> None:
        self.outside.append(route.request.url)
        await route.abort()

    async def shot(self, page: Page, name: str, *, full_page: bool = True) -> Path:
        """Audit the page (labels, contrast, live regions) and save a screenshot under
        tests/artifacts/ (look at them)."""
        problems = await page.evaluate(AUDIT)
        assert problems == [], f"{name}: accessibility problems"
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}-{self.backend}.png"
        await page.screenshot(path=path, full_page=full_page)
        return path


@pytest.fixture
async def browsing(
    chromium: Browser, live_server: LiveServer, backend: Backend
) -> AsyncIterator[Browsing]:
    made = Browsing(chromium, live_server, backend.name)
    yield made
    for context in made.contexts:
        await context.close()
    assert made.errors == [], "JavaScript errors in the pages"
    assert made.outside == [], "a page tried to reach beyond the test server"


@dataclass
class World:
    """A published festival made through the public API, and the people's tokens."""

    http: httpx.AsyncClient
    slug: str
    organiser_token: str
    track_id: str
    keynote_id: str
    workshop_id: str
    moderator_token: str = ""
    checkin_token: str = ""

    async def post(self, path: str, body: Any = None, token: str | None = None) -> Any:
        response = await self.http.post(
            path, json=body, headers=auth(token or self.organiser_token)
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def register(self, name: str) -> dict[str, Any]:
        email = f"{name.split()[0].lower()}-{os.urandom(3).hex()}@example.org"
        reply: dict[str, Any] = await self.post(
            f"/api/v1/festivals/{self.slug}/registrations", {"name": name, "email": email}
        )
        return reply

    async def projector_url(self, session_id: str) -> str:
        reply = await self.post(
            f"/api/v1/sessions/{session_id}/projector-links", token=self.moderator_token
        )
        url: str = reply["url"]
        return url[url.index("/present/") :]


@pytest.fixture
async def world(live_server: LiveServer, backend: Backend) -> AsyncIterator[World]:
    _, token = await organiser(backend.engine)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        made = await festival(
            http,
            token,
            name="Innovation Festival 2030",
            description="Two days of keynotes, workshops and a hackathon.",
            timezone="Europe/Amsterdam",
            mode="hybrid",
        )
        slug = made["slug"]
        base = f"/api/v1/festivals/{slug}"
        headers = auth(token)

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = await http.post(base + path, json=body, headers=headers)
            assert response.status_code == 201, response.text
            reply: dict[str, Any] = response.json()
            return reply

        track = await post("/tracks", {"name": "Digital Futures", "colour": "#0b4f8a"})
        other = await post("/tracks", {"name": "Food Systems", "colour": "#0b6b2e"})
        hall = await post("/rooms", {"name": "Main Hall", "capacity": 500})
        lab = await post("/rooms", {"name": "Lab 2", "capacity": 20})
        speaker = await post("/speakers", {"name": "Amina Diallo", "organisation": "Open Seeds"})
        keynote = await post(
            "/sessions",
            {
                "title": "Shifting the power in digital partnerships",
                "format": "keynote",
                "track_id": track["id"],
                "room_id": hall["id"],
                "speaker_ids": [speaker["id"]],
                "starts_at": "2030-10-08T07:30:00+00:00",
                "ends_at": "2030-10-08T08:30:00+00:00",
                "live_qa": True,
                "abstract": "Who decides, who pays, who owns the data.",
            },
        )
        workshop = await post(
            "/sessions",
            {
                "title": "Prototyping with farmers",
                "format": "workshop",
                "track_id": other["id"],
                "room_id": lab["id"],
                "starts_at": "2030-10-09T12:00:00+00:00",
                "ends_at": "2030-10-09T13:30:00+00:00",
                "capacity": 12,
            },
        )
        world = World(http, slug, token, track["id"], keynote["id"], workshop["id"])
        for role in ("moderator", "checkin"):
            response = await http.post(
                f"{base}/staff-tokens", json={"role": role, "label": role}, headers=headers
            )
            assert response.status_code == 201, response.text
            setattr(world, f"{role}_token", response.json()["token"])
        yield world
