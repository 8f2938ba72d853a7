"""The docs pages work offline: everything they load comes from the app itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class _References(HTMLParser):
    """Every ``src`` and ``href`` of a page, and the spec URL ReDoc is given."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.found.append(value)


def references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_pages_load_nothing_from_outside_the_app(
    client: httpx.AsyncClient, path: str
) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert re.findall(r"(?:https?:)?//[\w.-]+", page.text) == []  # no host named anywhere
    found = references(page.text)
    assets = [ref for ref in found if ref != "/openapi.json"]
    assert len(assets) >= 2  # the script and the favicon, and for Swagger UI its styles
    for ref in assets:
        assert ref.startswith("/"), ref
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        suffix = ref[ref.rindex(".") :]
        assert asset.headers["content-type"].startswith(CONTENT_TYPES[suffix]), ref


async def test_swagger_ui_gets_its_script_styles_and_the_spec_from_the_app(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/docs")).text
    found = references(page)
    assert "/docs/assets/swagger-ui-bundle.js" in found
    assert "/docs/assets/swagger-ui.css" in found
    assert "url: '/openapi.json'" in page
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in script.text
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    assert "/docs/assets" not in str(spec.json()["paths"])


async def test_swagger_ui_oauth2_redirect_page_is_still_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert re.findall(r"https?://[\w.-]+", response.text) == []
