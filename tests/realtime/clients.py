"""A small live-session client over real websockets, for the tests."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

_ids = itertools.count(1)
TIMEOUT = 20.0


class LiveClient:
    """Keeps every event it reads, in order, and answers requests by their id."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.replies: dict[Any, dict[str, Any]] = {}

    @classmethod
    async def open(
        cls, ws_url: str, session_id: Any, token: str, since: int | None = None
    ) -> LiveClient:
        url = f"{ws_url}/ws/sessions/{session_id}?token={token}"
        if since is not None:
            url += f"&since={since}"
        return cls(await connect(url, open_timeout=TIMEOUT, max_size=2**22))

    async def read(self) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
        if "seq" in frame:
            self.events.append(frame)
        elif "id" in frame:
            self.replies[frame["id"]] = frame
        return frame

    async def until(self, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        for frame in [*self.events]:
            if check(frame):
                return frame
        while True:
            frame = await self.read()
            if check(frame):
                return frame

    async def event(
        self, kind: str, check: Callable[[dict[str, Any]], bool] = lambda d: True
    ) -> dict[str, Any]:
        return await self.until(lambda f: f.get("type") == kind and check(f.get("data", {})))

    def vote_counts(self) -> dict[str, int]:
        """The newest count of each question among the count frames read so far."""
        counts: dict[str, int] = {}
        for event in self.events:
            if event["type"] == "question.votes":
                counts |= event["data"]["counts"]
        return counts

    async def send(self, kind: str, data: dict[str, Any] | None = None) -> Any:
        frame_id = f"c{next(_ids)}"
        await self.ws.send(json.dumps({"type": kind, "id": frame_id, "data": data or {}}))
        return frame_id

    async def request(self, kind: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a frame and wait for its ack or error."""
        frame_id = await self.send(kind, data)
        while frame_id not in self.replies:
            await self.read()
        return self.replies.pop(frame_id)

    async def ok(self, kind: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = await self.request(kind, data)
        assert reply["type"] == "ack", reply
        result: dict[str, Any] = reply["data"]
        return result

    async def drain(self) -> list[dict[str, Any]]:
        """Every frame until the server closes the socket."""
        frames = []
        try:
            while True:
                frames.append(await self.read())
        except ConnectionClosed:
            return frames

    @property
    def last_seq(self) -> int:
        return int(self.events[-1]["seq"]) if self.events else 0

    async def close(self) -> None:
        await self.ws.close()


class Collecting:
    """A Transport that keeps what the hub sends it (the hub's own seam, not a socket double)."""

    def __init__(self) -> None:
        self.frames: list[dict[str, object]] = []
        self.closed: int | None = None
        self.arrived = asyncio.Event()

    def write_now(self, text: str) -> bool:
        return False  # every frame takes the queue and the writer task

    async def send_text(self, text: str) -> None:
        self.frames.append(json.loads(text))
        self.arrived.set()

    async def close(self, code: int, reason: str = "") -> None:
        self.closed = code

    def seqs(self) -> list[int]:
        return [int(f["seq"]) for f in self.frames if isinstance(f.get("seq"), int)]  # type: ignore[call-overload]

    async def wait_for(self, count: int) -> None:
        while len(self.frames) < count:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 30)
