"""The application factory."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api.http import access_log, docs, problems
from api.http.body_limit import BodyLimit
from api.http.fastlane import FastLanes
from api.http.idempotency import IdempotencyCollision, replay_after_collision
from api.http.metrics import Metrics, MetricsMiddleware
from api.http.security_headers import SecurityHeaders
from api.lifespan import lifespan
from api.live import endpoint as websocket
from api.routers import (
    auth,
    checkin,
    festivals,
    live,
    members,
    messages,
    pages,
    passwords,
    privacy,
    programme,
    questions,
    registration,
    sign_in,
    speakers,
    stage,
    system,
    team_pages,
)
from festival.settings import Settings


class FestivalAPI(FastAPI):
    """FastAPI, but a live-session socket goes straight to :func:`api.live.endpoint.live_session`.

    Before the middleware stack, not inside it: each layer would stay alive, as
    a coroutine frame, on every one of thousands of idle sockets for hours.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_id = websocket.live_path(scope)
        if raw_id is None:
            await super().__call__(scope, receive, send)
        else:
            await websocket.live_session(self.state.live, scope, receive, send, raw_id)

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack inside :class:`SecurityHeaders`, so that every reply
        carries them, the server-error middleware's 500 included."""
        frame_ancestors = self.state.settings.frame_ancestors.split()
        return SecurityHeaders(super().build_middleware_stack(), frame_ancestors)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A Festival app for ``settings`` (read from the environment when omitted)."""
    settings = settings or Settings()
    logging.basicConfig(level=settings.log_level.upper())
    access_log.install()  # no token or Authorization value in any log line
    app = FestivalAPI(
        title="Festival",
        version="0.1.0",
        description="Programmes, registration, tickets and live sessions for festivals.",
        lifespan=lifespan,
        docs_url=None,  # served by api.http.docs without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = Metrics(app.state)
    problems.install(app)
    app.add_exception_handler(IdempotencyCollision, replay_after_collision)  # type: ignore[arg-type]
    # The busiest routes under load (the door's scans, a registration rush) are matched first.
    routers = (
        checkin,
        registration,
        questions,
        system,
        auth,
        sign_in,
        festivals,
        members,
        passwords,
        privacy,
        messages,
        programme,
        speakers,
        stage,
        live,
        pages,
        team_pages,
    )
    for module in routers:
        app.include_router(module.router)
    pages.install(app)
    docs.install(app)
    # Plain scans and registrations skip the router (api.http.fastlane).
    app.add_middleware(FastLanes)
    # Outside everything that reads a body: an oversized one is refused unread.
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger=[(f"{programme.PREFIX}/programme/import", programme.MAX_IMPORT_BYTES)],
    )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
