"""Live sockets are limited in rate and number (issue 16, finding 6), on a real uvicorn.

Pings count in the attendee's allowance: a flood gets error frames, then the
policy close (1008), and the flooder's next join waits out a cool-down (429
problem JSON). A token holds at most ``live_sockets_per_token`` sockets at once
and joins at a bounded rate, so a closed flooder cannot come straight back.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from api.app import create_app
from festival.settings import Settings
from realtime.protocol import Allowance, ClientState, Limits, Reply, decide
from tests.conftest import Backend, uvicorn_in_loop
from tests.factories.realtime import Live, live_session
from tests.realtime.clients import LiveClient

PROBLEM = "application/problem+json"
LIMITS = Limits()


async def _denied(ws_url: str, live: Live, raw: str) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as caught:
        await LiveClient.open(ws_url, live.session_id, raw)
    response = caught.value.response
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = json.loads(response.body or b"{}")
    return response.status_code, body


async def _joined(ws_url: str, live: Live, raw: str) -> LiveClient:
    client = await LiveClient.open(ws_url, live.session_id, raw)
    await client.event("snapshot")
    return client


async def _round_trip(client: LiveClient) -> float:
    started = time.perf_counter()
    await client.ok("ping")
    return time.perf_counter() - started


async def _read_replies(client: LiveClient, codes: list[str]) -> None:
    """Each reply's code ("pong" for an ack) into ``codes``, until the socket closes."""
    while True:
        frame = await client.read()
        if frame.get("type") in ("ack", "error"):
            codes.append(frame.get("code", "pong"))


def _serving(settings: Settings, **changes: Any) -> Any:
    app = create_app(settings.model_copy(update=changes))
    return uvicorn_in_loop(app, timeout_keep_alive=60)


async def test_a_ping_flood_is_refused_then_closed_and_cannot_rejoin_at_once(
    settings: Settings, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    async with _serving(settings) as port:
        ws_url = f"ws://127.0.0.1:{port}"
        flooder_token = await live.attendee("Flooder")
        flooder = await _joined(ws_url, live, flooder_token)
        other = await _joined(ws_url, live, await live.attendee("Bystander"))
        idle = statistics.median([await _round_trip(other) for _ in range(5)])

        sent = 0
        try:
            for n in range(5_000):
                await flooder.ws.send(json.dumps({"type": "ping", "id": n}))
                sent += 1
        except ConnectionClosed:
            pass
        codes: list[str] = []
        with pytest.raises(ConnectionClosed) as closed:
            await _read_replies(flooder, codes)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
        # The burst answered, then error frames, then the close: nowhere near 5,000 pongs.
        assert codes.count("pong") <= LIMITS.ping_burst + 2
        assert codes.count("rate_limited") >= LIMITS.abuse_errors - 1
        assert codes[: LIMITS.ping_burst] == ["pong"] * LIMITS.ping_burst

        # The bystander did not notice.
        during = statistics.median([await _round_trip(other) for _ in range(5)])
        assert during < max(10 * idle, 0.05)

        # The flooder's token waits out the cool-down before it may join again.
        status, body = await _denied(ws_url, live, flooder_token)
        assert (status, body["code"]) == (429, "rate_limited")
        assert "wait" in body["detail"]
        await other.close()


async def test_a_token_holds_at_most_its_cap_of_sockets(
    settings: Settings, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    async with _serving(settings, live_sockets_per_token=2) as port:
        ws_url = f"ws://127.0.0.1:{port}"
        raw = await live.attendee()
        held = [await _joined(ws_url, live, raw) for _ in range(2)]
        status, body = await _denied(ws_url, live, raw)
        assert (status, body["code"]) == (429, "rate_limited")
        assert "2 live sockets" in body["detail"]
        # Another token is not affected; closing one socket makes room.
        other = await _joined(ws_url, live, await live.attendee("Other"))
        await held.pop().close()
        for _ in range(50):
            await asyncio.sleep(0.05)
            try:
                held.append(await _joined(ws_url, live, raw))
                break
            except InvalidStatus:
                continue
        assert len(held) == 2
        for client in [*held, other]:
            await client.close()


async def test_the_cap_holds_for_joins_at_the_same_moment(
    settings: Settings, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    async with _serving(settings, live_sockets_per_token=2) as port:
        ws_url = f"ws://127.0.0.1:{port}"
        raw = await live.attendee()
        tries = [LiveClient.open(ws_url, live.session_id, raw) for _ in range(8)]
        results = await asyncio.gather(*tries, return_exceptions=True)
        opened = [r for r in results if isinstance(r, LiveClient)]
        refused = [r for r in results if isinstance(r, InvalidStatus)]
        assert (len(opened), len(refused)) == (2, 6), results
        assert {r.response.status_code for r in refused} == {429}
        for client in opened:
            await client.close()


async def test_joins_of_one_token_are_rate_limited(settings: Settings, backend: Backend) -> None:
    live = await live_session(backend.engine)
    async with _serving(settings) as port:
        ws_url = f"ws://127.0.0.1:{port}"
        raw = await live.moderator()
        for _ in range(LIMITS.join_burst):
            client = await _joined(ws_url, live, raw)
            await client.close()
        status, body = await _denied(ws_url, live, raw)
        assert (status, body["code"]) == (429, "rate_limited")


def test_pings_share_the_attendees_allowance_across_sockets() -> None:
    limits = Limits(pings_per_second=1, ping_burst=2, abuse_errors=3)
    shared = Allowance.of(limits)
    tab, phone = ClientState("attendee", limits, shared), ClientState("attendee", limits, shared)
    ping = json.dumps({"type": "ping", "id": str(uuid.uuid4())})
    replies = [decide(state, ping, 0.0) for state in (tab, phone, tab, tab, tab)]
    assert all(isinstance(r, Reply) for r in replies)
    frames = [json.loads(r.frames[0]) for r in replies if isinstance(r, Reply)]
    assert [f["type"] for f in frames] == ["ack", "ack", "error", "error", "error"]
    assert [r.close for r in replies if isinstance(r, Reply)] == [None, None, None, None, 1008]
    later = [decide(phone, ping, 1.0), decide(phone, ping, 1.0)]  # one ping refilled
    assert [json.loads(r.frames[0])["type"] for r in later if isinstance(r, Reply)] == [
        "ack",
        "error",
    ]
