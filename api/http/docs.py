"""The API's docs pages (``/docs``, ``/redoc``), their scripts and styles served by the app.

FastAPI's own docs pages load Swagger UI and ReDoc from a public CDN, so they
are blank offline: on a venue's wifi, behind a strict proxy, or on a laptop on
a train. Here the app serves those files itself, as FastAPI documents under
"Self-hosting JavaScript and CSS for docs". The files come from the
``fastapi-offline`` package (pinned), which keeps current builds of
``swagger-ui-dist`` and ReDoc in its ``static`` folder; only that folder is
used, not its app factory. Their source maps are not shipped, so a browser's
developer tools may ask for ``*.map`` in vain; nothing else does.
"""

from __future__ import annotations

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


def install(app: FastAPI) -> None:
    """Serve the docs pages and their assets; ``app`` is made with ``docs_url=None``
    and ``redoc_url=None`` so that FastAPI's CDN pages are not served beside them."""
    assets = StaticFiles(packages=[("fastapi_offline", "static")])
    app.mount(ASSETS, assets, name="docs-assets")
    title = app.title

    @app.get(DOCS, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            oauth2_redirect_url=root + OAUTH2_REDIRECT,
            # No badge from the public validator service: it would be a request outside.
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_redoc_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )


def _root(request: Request) -> str:
    """The path the app is mounted under behind a proxy (``--root-path``), if any."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")
