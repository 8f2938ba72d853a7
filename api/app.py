"""The application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from api import runtime_live, runtime_tickets
from api.http import docs, problems
from api.http.fastlane import FastLanes
from api.http.idempotency import IdempotencyCollision, replay_after_collision
from api.http.metrics import Metrics, MetricsMiddleware
from api.live import endpoint as websocket
from api.routers import auth, checkin, festivals, live, pages, programme, registration, system
from festival.db import make_engine, make_sessionmaker
from festival.migrate import DatabaseNotReady, require_current, sqlite_file
from festival.settings import Settings

log = logging.getLogger("festival")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():  # connecting would make an empty one
        raise DatabaseNotReady(f"no database at {path}: run `festival db upgrade` first")
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
    try:
        await require_current(engine)
    except BaseException:
        await engine.dispose()
        raise
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.redis = None
    if settings.redis_url:
        from redis.asyncio import Redis

        app.state.redis = Redis.from_url(settings.redis_url)
    await runtime_tickets.start(app)
    await runtime_live.start(app)
    if settings.environment != "test":
        # What start-up made lives as long as the process: keep it out of every full
        # collection, which otherwise adds ~100 ms to a 2,000-session feed render.
        gc.collect()
        gc.freeze()
        # Young collections 30x rarer: a vote batch's objects die before one comes, instead
        # of being promoted and setting off full collections over every held socket.
        gc.set_threshold(20_000, 20, 10)
    try:
        yield
    finally:
        await runtime_live.stop(app)
        await runtime_tickets.stop(app)
        if app.state.redis is not None:
            await app.state.redis.aclose()
        await engine.dispose()


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


def create_app(settings: Settings | None = None) -> FastAPI:
    """A Festival app for ``settings`` (read from the environment when omitted)."""
    settings = settings or Settings()
    logging.basicConfig(level=settings.log_level.upper())
    app = FestivalAPI(
        title="Festival",
        version="0.1.0",
        description="Programmes, registration, tickets and live sessions for festivals.",
        lifespan=_lifespan,
        docs_url=None,  # served by api.http.docs without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    problems.install(app)
    app.add_exception_handler(IdempotencyCollision, replay_after_collision)  # type: ignore[arg-type]
    # The busiest routes under load (the door's scans, a registration rush) are matched first.
    for module in (checkin, registration, system, auth, festivals, programme, live, pages):
        app.include_router(module.router)
    pages.install(app)
    docs.install(app)
    # Plain scans and registrations skip the router (api.http.fastlane).
    app.add_middleware(FastLanes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
