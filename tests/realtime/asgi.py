"""A websocket client that talks ASGI straight to the app (no server in between)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import FastAPI

TIMEOUT = 10.0


class AsgiSocket:
    def __init__(self, app: FastAPI, path: str, query: str) -> None:
        self.app, self.path, self.query = app, path, query
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def connect(self) -> dict[str, Any]:
        """Start the handshake; the app's first message (accept, close or a denial)."""
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "http_version": "1.1",
            "path": self.path,
            "raw_path": self.path.encode(),
            "root_path": "",
            "query_string": self.query.encode(),
            "headers": [(b"host", b"testserver")],
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 50000),
            "subprotocols": [],
            "extensions": {"websocket.http.response": {}},
            "state": {},
        }
        self.task = asyncio.create_task(self.app(scope, self.inbox.get, self.outbox.put))
        await self.inbox.put({"type": "websocket.connect"})
        return await self.message()

    async def message(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.outbox.get(), TIMEOUT)

    async def frame(self) -> dict[str, Any]:
        message = await self.message()
        assert message["type"] == "websocket.send", message
        frame: dict[str, Any] = json.loads(message["text"])
        return frame

    async def until(self, kind: str) -> dict[str, Any]:
        while True:
            frame = await self.frame()
            if frame.get("type") == kind:
                return frame

    async def send(self, kind: str, data: dict[str, Any], frame_id: str = "x1") -> None:
        text = json.dumps({"type": kind, "id": frame_id, "data": data})
        await self.inbox.put({"type": "websocket.receive", "text": text})

    async def close(self) -> None:
        await self.inbox.put({"type": "websocket.disconnect", "code": 1000})
        assert self.task is not None
        await asyncio.wait_for(self.task, TIMEOUT)
