"""Live sessions' machinery, started and stopped with the app.

The hub and its broker (Redis when ``FESTIVAL_REDIS_URL`` is set, else in
memory) live on ``app.state.live``. Each client frame runs in its own short
unit of work behind a gate, so a storm of votes queues for the database
instead of opening a connection per socket.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from festival.db import unit_of_work
from festival.errors import FestivalError
from realtime import dispatch
from realtime.broker import Broker, MemoryBroker, RedisBroker
from realtime.hub import Hub
from realtime.live import LiveContext
from realtime.protocol import Command, Limits, ack, error

log = logging.getLogger("festival.live")
DB_GATE = 16


@dataclass
class LiveRuntime:
    hub: Hub
    sessionmaker: async_sessionmaker[AsyncSession]
    limits: Limits = field(default_factory=Limits)
    gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(DB_GATE))

    async def execute(self, ctx: LiveContext, command: Command) -> str:
        """One frame, one unit of work: the ack after the commit, or an error frame."""
        async with self.gate:
            try:
                async with unit_of_work(self.sessionmaker) as session:
                    data = await dispatch.run(session, ctx, command)
            except FestivalError as exc:
                return error(command.id, exc.code, exc.detail)
            except Exception:
                log.exception("live frame %s failed", command.type)
                return error(command.id, "internal_error", "Something went wrong on our side")
        return ack(command.id, data)

    async def snapshot(self, ctx: LiveContext, seq: int) -> dict[str, Any]:
        async with self.gate, unit_of_work(self.sessionmaker) as session:
            data = await dispatch.snapshot(session, ctx, seq)
        channel = self.hub.channels.get(str(ctx.session_id))
        size = channel.size if channel else 0
        shown = channel.presence if channel and channel.presence is not None else 0
        data["presence"] = {"count": max(shown, size)}
        return data


def make_broker(app: FastAPI) -> Broker:
    redis = getattr(app.state, "redis", None)
    if redis is None:
        return MemoryBroker()
    return RedisBroker(redis, prefix=app.state.settings.redis_prefix)


async def start(app: FastAPI) -> None:
    """Start the hub (and its broker) for this app."""
    hub = Hub(make_broker(app))
    await hub.start()
    app.state.live = LiveRuntime(hub, app.state.sessionmaker)


async def stop(app: FastAPI) -> None:
    """Tell every client to reconnect (1012) and stop the broker."""
    runtime: LiveRuntime | None = getattr(app.state, "live", None)
    if runtime is not None:
        await runtime.hub.stop()
