"""The API's docs pages (``/docs``, ``/redoc``), their scripts and styles served by the app.

FastAPI's own docs pages load Swagger UI and ReDoc from a public CDN, so they
are blank offline: on a venue's wifi, behind a strict proxy, or on a laptop on
a train. Here the app serves those files itself, as FastAPI documents under
"Self-hosting JavaScript and CSS for docs". The files come from the
``fastapi-offline`` package (pinned), which keeps current builds of
``swagger-ui-dist`` and ReDoc in its ``static`` folder; only that folder is
used, not its app factory. Their source maps are not shipped, so a browser's
developer tools may ask for ``*.map`` in vain; nothing else does.

FastAPI's helpers write an inline ``<script>`` (Swagger UI's set-up, the OAuth2
redirect page) and an inline ``<style>`` (ReDoc's), which the pages' CSP
(:mod:`api.http.security_headers`) forbids. These pages bring a CSP of their
own: each inline script is allowed by its SHA-256 hash, computed from the page
as it is sent (so a new FastAPI release cannot slip an unlisted script in), and
nothing else inline runs. Styles may be inline here (Swagger UI and ReDoc set
them at run time); ReDoc's search runs in a worker made from a ``blob:``.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
DOCS = "/docs"
REDOC = "/redoc"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def with_policy(page: HTMLResponse) -> HTMLResponse:
    """``page`` with a CSP allowing its own inline scripts (by hash) and nothing else inline."""
    scripts = ["'self'"] + [
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(bytes(page.body))
    ]
    page.headers["content-security-policy"] = (
        f"default-src 'self'; script-src {' '.join(scripts)}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return page


def install(app: FastAPI) -> None:
    """Serve the docs pages and their assets; ``app`` is made with ``docs_url=None``
    and ``redoc_url=None`` so that FastAPI's CDN pages are not served beside them."""
    assets = StaticFiles(packages=[("fastapi_offline", "static")])
    app.mount(ASSETS, assets, name="docs-assets")
    title = app.title

    @app.get(DOCS, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        page = get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            oauth2_redirect_url=root + OAUTH2_REDIRECT,
            # No badge from the public validator service: it would be a request outside.
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )
        return with_policy(page)

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return with_policy(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        page = get_redoc_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        return with_policy(page)


def _root(request: Request) -> str:
    """The path the app is mounted under behind a proxy (``--root-path``), if any."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")
