"""What starts and stops with the app.

In order: the database (refused unless migrated to the current revision), Redis
when ``FESTIVAL_REDIS_URL`` is set, the abuse limits (``app.state.limiter``, in
Redis when there is one, and ``app.state.client_address``; see
:mod:`festival.limits`), the tickets' background machinery (the
programme-change handlers and the outbox sender) and the live sessions' runtime
(:class:`realtime.runtime.LiveRuntime` on ``app.state.live``, its hub and
broker); they stop in the reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI

from api.http.client_address import ClientAddress
from festival import auth, effects
from festival.db import make_engine, make_sessionmaker
from festival.limits import LIVE_JOINS, make_limiter
from festival.migrate import DatabaseNotReady, require_current, sqlite_file
from festival.settings import Settings
from realtime.broker import Broker, MemoryBroker, RedisBroker
from realtime.hub import Hub
from realtime.protocol import Limits
from realtime.runtime import DB_GATE, AccessEndings, LiveRuntime
from tickets import confirmation, no_shows, notify, reminders, team_letters
from tickets.checkin import DoorLine
from tickets.outbox import Sender


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open what the app serves with for as long as it runs, and close it after."""
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
    # The door's common scans, in batches on the pool's own connections (PostgreSQL).
    app.state.door = DoorLine(engine) if engine.dialect.name == "postgresql" else None
    app.state.redis = None
    if settings.redis_url:
        from redis.asyncio import Redis

        app.state.redis = Redis.from_url(settings.redis_url)
    app.state.limiter = make_limiter(settings.rate_limits, app.state.redis, settings.redis_prefix)
    app.state.client_address = ClientAddress(settings.trusted_proxies)
    await auth.prepare()
    await start_tickets(app)
    start_privacy(app)
    await start_live(app)
    if settings.environment != "test":
        _tune_gc()
    try:
        yield
    finally:
        await stop_live(app)
        await stop_privacy(app)
        await stop_tickets(app)
        await app.state.limiter.aclose()
        if app.state.redis is not None:
            await app.state.redis.aclose()
        await engine.dispose()


def _tune_gc() -> None:
    # What start-up made lives as long as the process: keep it out of every full
    # collection, where it would be walked again each time for nothing.
    gc.collect()
    gc.freeze()
    # Young collections ~30 times rarer than Python's default (700 allocations): a
    # vote batch's objects die before one comes, instead of being promoted and
    # setting off full collections over every held socket.
    gc.set_threshold(20_000, 20, 10)


async def start_tickets(app: FastAPI) -> None:
    """Subscribe to programme changes, start the outbox sender, the lapse of
    unconfirmed registrations (:func:`tickets.confirmation.lapse_forever`), the
    reminders and the release of no-show seats (:func:`tickets.no_shows.release_forever`).

    The outbox sender runs as one task per process; workers share the outbox
    table safely (see :class:`tickets.outbox.Sender`). Programme-change handlers
    are subscribed here so every process that serves requests has them.
    """
    notify.install()
    team_letters.install()
    settings = app.state.settings
    sender = Sender(
        app.state.sessionmaker,
        smtp_url=settings.smtp_url,
        mail_from=settings.mail_from,
        base_url=settings.base_url,
        mail_dir=settings.mail_dir,
    )
    app.state.outbox_sender = sender
    app.state.outbox_task = asyncio.create_task(sender.run(), name="outbox-sender")
    app.state.lapse_task = asyncio.create_task(
        confirmation.lapse_forever(app.state.sessionmaker), name="lapse-holds"
    )
    app.state.reminders_task = asyncio.create_task(
        reminders.remind_forever(app.state.sessionmaker, base_url=settings.base_url),
        name="reminders",
    )
    app.state.no_shows_task = asyncio.create_task(
        no_shows.release_forever(app.state.sessionmaker), name="no-show-seats"
    )


async def stop_tickets(app: FastAPI) -> None:
    """Stop the sender, letting a send in flight finish (bounded by its SMTP timeout)."""
    for name in ("lapse_task", "reminders_task", "no_shows_task"):
        job: asyncio.Task[None] | None = getattr(app.state, name, None)
        if job is not None:
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job
    sender: Sender | None = getattr(app.state, "outbox_sender", None)
    task: asyncio.Task[None] | None = getattr(app.state, "outbox_task", None)
    if sender is None or task is None:
        return
    sender.stop()
    try:
        await asyncio.wait_for(task, timeout=20)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def make_broker(app: FastAPI) -> Broker:
    """Redis when the app has it (several processes share a session), else in memory."""
    redis = getattr(app.state, "redis", None)
    if redis is None:
        return MemoryBroker()
    return RedisBroker(redis, prefix=app.state.settings.redis_prefix)


async def start_live(app: FastAPI) -> None:
    """Start the hub (and its broker) and the runtime that serves live sockets on it.

    The database gate is 1 on SQLite (one writer: frames queue rather than wait
    for its lock), else :data:`realtime.runtime.DB_GATE`. A cancelled
    registration's sockets close when its cancel commits (``effects.access_ended``),
    on every node when there is Redis (:class:`realtime.runtime.AccessEndings`).
    """
    settings = app.state.settings
    hub = Hub(make_broker(app))
    await hub.start()
    gate = asyncio.Semaphore(1 if settings.is_sqlite else DB_GATE)
    limits = Limits(max_sockets=settings.live_sockets_per_token)
    joins = replace(LIVE_JOINS, limit=settings.live_joins_per_minute)
    app.state.live = LiveRuntime(
        hub, app.state.sessionmaker, gate, limits, limiter=app.state.limiter, join_rule=joins
    )
    endings = app.state.access_endings = AccessEndings(
        app.state.live, app.state.redis, settings.redis_prefix
    )
    await endings.start()
    stops = (effects.on_access_ended(endings.ended), effects.on_attendee_told(endings.told))

    def unsubscribe() -> None:
        for stop in stops:
            stop()

    app.state.live_unsubscribe = unsubscribe


async def stop_live(app: FastAPI) -> None:
    """Tell every client to reconnect (1012) and stop the broker."""
    unsubscribe = getattr(app.state, "live_unsubscribe", None)
    if unsubscribe is not None:
        unsubscribe()
    endings: AccessEndings | None = getattr(app.state, "access_endings", None)
    if endings is not None:
        await endings.stop()
    runtime: LiveRuntime | None = getattr(app.state, "live", None)
    if runtime is not None:
        await runtime.hub.stop()


def start_privacy(app: FastAPI) -> None:
    """Exports, erasures and purges reach every package's data (``festival.privacy``),
    and the retention purge runs now and hourly (:mod:`tickets.retention`; safe on
    every process at once)."""
    from realtime import privacy as live_privacy
    from tickets import privacy, retention

    privacy.install()
    live_privacy.install()
    app.state.retention_task = asyncio.create_task(
        retention.purge_forever(app.state.sessionmaker), name="retention"
    )


async def stop_privacy(app: FastAPI) -> None:
    task: asyncio.Task[None] | None = getattr(app.state, "retention_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
