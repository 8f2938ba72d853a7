"""`festival serve` processes on loopback ports, for the multi-node tests.

Shared by ``tests/realtime`` (two nodes on the test run's database and Redis)
and ``tests/faults`` (two nodes on a PostgreSQL and a Redis the test owns).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.conftest import free_port

FESTIVAL = Path(sys.executable).with_name("festival")


class Node:
    def __init__(
        self, process: asyncio.subprocess.Process, port: int, log: Path | None = None
    ) -> None:
        self.process, self.port, self.log = process, port, log
        self.url, self.ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"

    def logged(self) -> str:
        """What the process wrote to its log so far ("" without one)."""
        return self.log.read_text(errors="replace") if self.log else ""


async def start_node(env: dict[str, str], port: int | None = None, log: Path | None = None) -> Node:
    """Start `festival serve` and wait until its /readyz says 200."""
    port = port or free_port()
    out = log.open("ab") if log else asyncio.subprocess.DEVNULL
    try:
        process = await asyncio.create_subprocess_exec(
            str(FESTIVAL),
            *("serve", "--host", "127.0.0.1", "--port", str(port)),
            env=env,
            stdout=out,
            stderr=out,
        )
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    node = Node(process, port, log)
    async with httpx.AsyncClient(base_url=node.url) as http:
        for _ in range(600):
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return node
            except httpx.TransportError:
                pass
            assert process.returncode is None, f"festival serve died on start: {node.logged()}"
            await asyncio.sleep(0.05)
    raise AssertionError(f"festival serve never became ready: {node.logged()}")


async def stop_node(node: Node) -> None:
    process = node.process
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


@asynccontextmanager
async def serve(env: dict[str, str]) -> AsyncIterator[Node]:
    node = await start_node(env)
    try:
        yield node
    finally:
        await stop_node(node)
