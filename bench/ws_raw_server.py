"""The baseline of bench.ws_fanout: a bare `websockets` server that broadcasts a trigger.

A connection to `/trigger` sends a marker; the server broadcasts a frame shaped
like our `question.added` (same size, roughly) to every other connection with
`websockets.broadcast`, which writes without awaiting any client.

A marker that starts with `copy:` carries the whole text to broadcast (the
ordinary-client mode sends a copy of our own frame, new marker and all, so both
servers write frames of the same size).

A marker that starts with `loop:` is written instead by the barest loop Python
has: the frame built once, then `os.write` of its bytes to each socket's
descriptor, one after another. That is the floor under any single-threaded
Python server on the machine: what the kernel's loopback TCP costs a socket.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys

from websockets.asyncio.server import ServerConnection, broadcast, serve

from api.live.uvicorn_protocol import text_frame

clients: dict[ServerConnection, int] = {}  # each connection's socket descriptor


def frame(marker: str) -> str:
    data = {
        "id": "00000000-0000-0000-0000-000000000000",
        "text": f"{marker} padding?",
        "anonymous": False,
        "author": "A1",
        "status": "approved",
        "highlighted": False,
        "votes": 0,
        "rev": 0,
        "created_at": "2030-01-01T09:00:00+00:00",
    }
    return json.dumps({"type": "question.added", "seq": 1, "data": data}, separators=(",", ":"))


async def handler(ws: ServerConnection) -> None:
    if ws.request is not None and ws.request.path == "/trigger":
        async for marker in ws:
            if str(marker).startswith("copy:"):
                broadcast(clients, str(marker)[5:])
            elif str(marker).startswith("loop:"):
                send_loop(frame(str(marker)))
            else:
                broadcast(clients, frame(str(marker)))
        return
    clients[ws] = ws.transport.get_extra_info("socket").fileno()
    try:
        await ws.wait_closed()
    finally:
        clients.pop(ws, None)


def send_loop(text: str) -> None:
    data = text_frame(text)
    for ws, fd in clients.items():
        if ws.transport.get_write_buffer_size():  # a ping waits there: keep the order
            ws.transport.write(data)
        elif (written := os.write(fd, data)) < len(data):  # its send buffer filled up
            ws.transport.write(data[written:])


async def main(port: int) -> None:
    # No compression: ours has none either (a zlib state per socket), and an
    # ordinary client that offers it would otherwise get it here alone.
    async with serve(
        handler,
        "127.0.0.1",
        port,
        ping_interval=20,
        backlog=4096,
        max_queue=16,
        compression=None,
    ):
        await asyncio.Future()


if __name__ == "__main__":
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(int(sys.argv[1])))
