"""The floor under bench.ws_fanout's memory figure: a bare ASGI websocket app under uvicorn.

It accepts, sends one small frame and waits, nothing else; the server RSS per
idle socket is what uvicorn (and the websocket implementation asked for) costs
before any application state. Same client processes as bench.ws_fanout.
Run: `.venv/bin/python -m bench.ws_floor [--n 5000] [--ws websockets-sansio]`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from typing import Any

from bench import ws_setup
from bench.ws_fanout import Pool, raise_fd_limit, rss_kib

FIRST = '{"type":"snapshot","data":{"questions":[]}}'  # what the clients wait for


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Health on HTTP; on a websocket, accept, send one frame, wait for the end."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": FIRST})
    while (await receive())["type"] != "websocket.disconnect":
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--ws", default="websockets-sansio")
    args = parser.parse_args()
    raise_fd_limit()
    port = ws_setup.free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.ws_floor:app", "--port", str(port)]
    command += ["--ws", args.ws, "--ws-per-message-deflate", "False", "--log-level", "warning"]
    server = subprocess.Popen(command)
    pool = Pool.start(4, 90)
    try:
        time.sleep(3.0)
        before = rss_kib(server.pid)
        urls = [f"ws://127.0.0.1:{port}/ws/sessions/floor" for _ in range(args.n)]
        held = sum(c[0] for c in pool.each("connect", pool.split(urls), timeout=900))
        time.sleep(3.0)
        per_socket = (rss_kib(server.pid) - before) / max(1, args.n)
        print(f"{args.ws}: {held} sockets held, {per_socket:.1f} KiB per idle socket")
        pool.ask("close_all", timeout=300)
    finally:
        pool.stop()
        server.terminate()
        server.wait(20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
