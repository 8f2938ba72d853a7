"""On shutdown, connected clients are told to reconnect elsewhere (close 1012)."""

from __future__ import annotations

import asyncio

import uvicorn

from api.app import create_app
from festival.settings import Settings
from realtime.broker import MemoryBroker
from realtime.hub import Hub
from tests.conftest import Backend, free_port
from tests.factories.realtime import live_session
from tests.realtime.clients import Collecting, LiveClient


async def test_stopping_the_server_closes_sockets_with_1012(
    settings: Settings, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
        await asyncio.sleep(0.02)
    client = await LiveClient.open(f"ws://127.0.0.1:{port}", live.session_id, await live.attendee())
    await client.event("snapshot")
    server.should_exit = True
    await client.drain()
    await asyncio.wait_for(task, 15)
    assert client.ws.close_code == 1012


async def test_the_hub_itself_closes_its_clients_with_1012_when_stopped() -> None:
    hub = Hub(MemoryBroker())
    await hub.start()
    seen = Collecting()

    async def snapshot(seq: int) -> dict[str, object]:
        return {"seq": seq}

    await hub.join("channel", seen, "attendee", None, snapshot)
    await seen.wait_for(1)
    await hub.stop()
    assert seen.closed == 1012
