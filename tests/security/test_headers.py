"""Issue 16, item 5 (the browser part): what a reply lets a browser do with it.

Found: pages that keep tokens in ``localStorage`` were sent without
``Referrer-Policy``, a CSP, ``X-Frame-Options``/``frame-ancestors`` or ``nosniff``.
Now every reply carries them (api/http/security_headers.py): pages run only the
app's own module scripts and styles, no page may be framed but the projector's
(by the origins in ``FESTIVAL_FRAME_ANCESTORS``), and the docs pages allow
their inline bootstrap script by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import httpx
import pytest
from playwright.async_api import async_playwright

from api.app import create_app
from api.http.security_headers import OTHER_POLICY, PAGE_POLICY
from festival.settings import Settings
from tests.conftest import Backend, LiveServer
from tests.factories import schedule as sf
from tests.factories.festival import festival, organiser
from tests.pages.conftest import ARGS, CHROMIUM, CSP_WATCH, SQLITE_ONLY

PAGES = [
    "/",
    "/f/{slug}",
    "/f/{slug}/register",
    "/f/{slug}/ticket",
    "/live/{session}",
    "/moderate/{session}",
    "/present/{session}",
    "/checkin/{slug}",
    "/f/no-such-festival",  # the missing page
]
COMMON = {"referrer-policy": "no-referrer", "x-content-type-options": "nosniff"}


async def _programme(client: httpx.AsyncClient, backend: Backend) -> tuple[str, str]:
    """A published festival's slug and the id of a session in it."""
    _, token = await organiser(backend.engine)
    slug = (await festival(client, token))["slug"]
    made = await sf.session(
        client, token, slug, "2030-10-08T09:00:00+02:00", "2030-10-08T10:00:00+02:00"
    )
    return slug, made["id"]


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in parts}


class _Inline(HTMLParser):
    """What a strict CSP would refuse in a page's markup."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            if "src" not in named:
                self.found.append("an inline <script>")
            elif named.get("type") != "module":
                self.found.append(f"a classic script {named['src']}")
        if tag == "style":
            self.found.append("a <style> element")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")
            if value and value.strip().lower().startswith("javascript:"):
                self.found.append(f"a javascript: URL on <{tag}>")


@SQLITE_ONLY
async def test_every_page_sends_the_strict_policy_and_no_referrer(
    live_server: LiveServer, backend: Backend
) -> None:
    # A generous timeout: the server shares this test's loop and a loaded box (CI).
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as client:
        slug, session = await _programme(client, backend)
        for template in PAGES:
            path = template.format(slug=slug, session=session)
            page = await client.get(path)
            assert page.headers["content-type"].startswith("text/html"), path
            assert {k: page.headers[k] for k in COMMON} == COMMON, path
            assert page.headers["x-frame-options"] == "DENY", path
            policy = page.headers["content-security-policy"]
            assert policy == f"{PAGE_POLICY}; frame-ancestors 'none'", path
            parser = _Inline()
            parser.feed(page.text)
            assert parser.found == [], path


def test_the_page_policy_allows_no_inline_script_or_style_and_no_other_host() -> None:
    policy = _directives(f"{PAGE_POLICY}; frame-ancestors 'none'")
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]  # the live socket is on the same host
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for values in policy.values():
        for value in values:
            assert value in {"'self'", "'none'", "data:", "blob:"}, value


@SQLITE_ONLY
async def test_api_replies_run_nothing_and_cannot_be_framed(live_server: LiveServer) -> None:
    """JSON, problem JSON (the 413 of the body limit and a 500's included) and
    static files: ``default-src 'none'``, so a body a browser opens directly runs
    nothing, whatever it looks like."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as client:
        replies = [
            await client.get("/healthz"),
            await client.get("/api/v1/festivals/nope"),
            await client.post("/api/v1/auth/token", content=b"x" * (2 * 1024 * 1024)),
            await client.get("/openapi.json"),
            await client.get("/static/festival.css"),
        ]
    assert [r.status_code for r in replies] == [200, 404, 413, 200, 200]
    for reply in replies:
        assert {k: reply.headers[k] for k in COMMON} == COMMON
        assert reply.headers["x-frame-options"] == "DENY"
        assert reply.headers["content-security-policy"] == (
            f"{OTHER_POLICY}; frame-ancestors 'none'"
        )


async def test_an_unexpected_error_carries_the_headers_too(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            reply = await client.get("/boom")
    assert reply.status_code == 500
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["content-security-policy"].startswith("default-src 'none'")


@SQLITE_ONLY
async def test_only_the_projector_page_may_be_framed_by_the_listed_origins(
    settings: Settings, backend: Backend
) -> None:
    listed = "https://stage.example.org, https://*.example.net:8443/"
    app = create_app(Settings(**{**settings.model_dump(), "frame_ancestors": listed}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            _, session = await _programme(client, backend)
            present = await client.get(f"/present/{session}")
            live = await client.get(f"/live/{session}")
    assert present.status_code == live.status_code == 200
    assert _directives(present.headers["content-security-policy"])["frame-ancestors"] == [
        "https://stage.example.org",
        "https://*.example.net:8443",
    ]
    assert "x-frame-options" not in present.headers  # it cannot name origins
    assert _directives(live.headers["content-security-policy"])["frame-ancestors"] == ["'none'"]
    assert live.headers["x-frame-options"] == "DENY"


@SQLITE_ONLY
async def test_without_listed_origins_the_projector_page_is_not_framed_either(
    live_server: LiveServer, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as client:
        _, session = await _programme(client, backend)
        present = await client.get(f"/present/{session}")
    assert present.headers["x-frame-options"] == "DENY"
    assert _directives(present.headers["content-security-policy"])["frame-ancestors"] == ["'none'"]


@pytest.mark.parametrize(
    "value",
    ["https://stage.example.org/path", "javascript:alert(1)", "*", "stage.example.org", "'none'"],
)
def test_frame_ancestors_takes_origins_only(value: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        Settings(frame_ancestors=value, secret_key="x" * 32)


def test_frame_ancestors_become_a_source_list() -> None:
    made = Settings(frame_ancestors="https://a.example.org/, self", secret_key="x" * 32)
    assert made.frame_ancestors == "https://a.example.org 'self'"
    assert Settings(secret_key="x" * 32).frame_ancestors == ""


@SQLITE_ONLY
@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_docs_pages_allow_their_own_inline_script_by_hash_only(
    client: httpx.AsyncClient, path: str
) -> None:
    page = await client.get(path)
    policy = _directives(page.headers["content-security-policy"])
    scripts = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in scripts
    ]
    assert policy["script-src"] == ["'self'", *hashes]
    assert policy["frame-ancestors"] == ["'none'"]
    assert page.headers["referrer-policy"] == "no-referrer"


REDOC_LOGO = "CSP: img-src refused https://cdn.redoc.ly/redoc/logo-mini.svg (:0)"


@pytest.mark.browser
@SQLITE_ONLY
@pytest.mark.parametrize(
    ("path", "shown", "refused"),
    [("/docs", ".swagger-ui .info .title", []), ("/redoc", "redoc h1", [REDOC_LOGO])],
)
async def test_docs_pages_work_under_their_policy_in_a_browser(
    live_server: LiveServer, path: str, shown: str, refused: list[str]
) -> None:
    """Chromium with every CSP violation turned into a page error: Swagger UI and
    ReDoc render the API's title, and nothing of the app's was refused. ReDoc's
    sidebar asks a CDN for its maker's logo; the policy refuses that (ReDoc then
    hides the image), which keeps the docs from reaching outside."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (CI installs it)")
    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context(base_url=live_server.url)
            await context.add_init_script(CSP_WATCH)
            page = await context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(path)
            title = page.locator(shown).first
            await title.wait_for(timeout=20_000)
            assert "Festival" in await title.inner_text()
            await page.wait_for_timeout(500)  # a late violation (a worker, a style)
        finally:
            await browser.close()
    assert errors == refused
