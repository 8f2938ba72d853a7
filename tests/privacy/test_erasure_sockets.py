"""Erasure ends access as a cancel does: open live sockets close, the handshake is refused."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import Backend, LiveServer
from tests.factories.festival import auth
from tests.factories.tickets import open_festival, registered
from tests.realtime.clients import LiveClient
from tests.security.test_token_lifecycle import _closed_with, _denied, _live_qa_session


async def test_erasing_oneself_closes_ones_open_sockets_and_refuses_new_ones(
    live_server: LiveServer, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        made, _ = await open_festival(http, backend.engine)
        session_id = await _live_qa_session(backend, made["id"])
        raw = (await registered(http, made["slug"]))["attendee_token"]
        bystander = (await registered(http, made["slug"]))["attendee_token"]
        tab = await LiveClient.open(live_server.ws_url, session_id, raw)
        other = await LiveClient.open(live_server.ws_url, session_id, bystander)
        for client in (tab, other):
            await client.event("snapshot")

        erased = await http.delete("/api/v1/me", headers=auth(raw))
        assert erased.status_code == 204, erased.text

        assert await asyncio.wait_for(_closed_with(tab), 5) == 1008
        assert await other.ok("ping") == {"pong": True}
        status, _ = await _denied(live_server, session_id, raw)
        assert status == 401
        await other.close()
