"""Back-pressure: a client that stops reading is evicted; the others get everything."""

from __future__ import annotations

import asyncio
import base64
import os
import socket

from realtime.protocol import Event
from tests.conftest import Backend, LiveServer
from tests.factories.realtime import live_session
from tests.realtime.clients import LiveClient


async def _stalled_socket(server: LiveServer, path: str) -> socket.socket:
    """A real websocket handshake from a socket with a tiny receive buffer that never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    host, port = server.url.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 1)
    assert head.startswith(b"HTTP/1.1 101")
    return sock


async def test_a_client_that_stops_reading_is_evicted_and_the_others_miss_nothing(
    live_server: LiveServer, backend: Backend
) -> None:
    hub = live_server.app.state.live.hub
    hub.queue_size = 64
    live = await live_session(backend.engine)
    fast = await LiveClient.open(live_server.ws_url, live.session_id, await live.attendee())
    await fast.event("snapshot")
    path = f"/ws/sessions/{live.session_id}?token={await live.attendee()}"
    stalled = await _stalled_socket(live_server, path)
    await fast.event("presence", lambda d: d["count"] == 2)
    channel = await hub.channel(str(live.session_id))

    total = 1500  # ~9 MB: more than the kernel buffers hold for the stalled socket
    for i in range(total):
        await hub.publish(live.session_id, Event("question.updated", {"i": i, "pad": "x" * 6000}))
        if i % 20 == 0:
            await asyncio.sleep(0)
    got = []
    while len(got) < total:
        frame = await fast.read()
        if frame.get("type") == "question.updated":
            got.append(frame["data"]["i"])
    assert got == list(range(total))
    seqs = [e["seq"] for e in fast.events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert hub.evicted == 1
    assert channel.size == 1
    stalled.close()
    await fast.close()
