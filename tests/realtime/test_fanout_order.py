"""A fan-out writes to a role's sockets in the order they joined, as `websockets.broadcast`
does: ordinary clients read their sockets in the order the frames come, and in join
order each reads memory it laid out one after another (bench/RESULTS.md, issue 18)."""

from __future__ import annotations

import asyncio
import uuid

from realtime.broker import MemoryBroker
from realtime.hub import Hub
from realtime.protocol import Event


class Recorder:
    """A socket that takes every frame at once and notes, in one shared list, who got one."""

    def __init__(self, name: int, log: list[int]) -> None:
        self.name, self.log = name, log

    def write_now(self, text: str) -> bool:
        if '"question.added"' in text:
            self.log.append(self.name)
        return True

    async def send_text(self, text: str) -> None:
        self.write_now(text)

    async def close(self, code: int, reason: str = "") -> None:
        return None


async def _snapshot(seq: int) -> dict[str, object]:
    return {"seq": seq}


async def test_a_fan_out_writes_in_join_order_and_a_rejoin_goes_to_the_back() -> None:
    hub = Hub(MemoryBroker())
    await hub.start()
    session_id = uuid.uuid4()
    log: list[int] = []
    clients = {}
    try:
        for name in range(200):
            clients[name] = await hub.join(
                str(session_id), Recorder(name, log), "attendee", None, _snapshot
            )
        # Some leave, and one of them comes back: it is now the last to have joined.
        for name in (0, 57, 120, 199):
            hub.drop(clients.pop(name))
        clients[57] = await hub.join(
            str(session_id), Recorder(57, log), "attendee", None, _snapshot
        )
        await asyncio.sleep(0.05)  # the joins' own frames go out first
        log.clear()
        event = Event("question.added", {"id": "q1", "text": "Why?"})
        await hub.publish(session_id, event)
        expected = [n for n in range(1, 199) if n not in (57, 120)] + [57]
        for _ in range(100):
            if len(log) >= len(expected):
                break
            await asyncio.sleep(0.01)
        assert log == expected
    finally:
        await hub.stop()
