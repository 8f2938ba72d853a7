"""`festival serve`'s websocket protocol (api.live.uvicorn_protocol) on a real uvicorn.

With a bare app.

The live-session tests run on it too (the live_server fixture); these pin down
what it adds to uvicorn's: the ``festival.send_now`` extension and its refusals.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import tomllib
from collections.abc import AsyncIterator, Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from api.live.uvicorn_protocol import (
    PARENT_METHODS,
    PARENT_STATE,
    SEND_NOW,
    UVICORN_RANGE,
    Gate,
    Inbox,
    LiveWebSocketProtocol,
    text_frame,
)
from tests.conftest import uvicorn_in_loop

Said = dict[str, Any]
UVICORN = metadata.version("uvicorn")


def test_the_installed_uvicorn_is_one_the_protocol_is_written_for() -> None:
    assert UVICORN in SpecifierSet(UVICORN_RANGE), (
        f"uvicorn {UVICORN} is outside {UVICORN_RANGE}, the releases "
        "api/live/uvicorn_protocol.py is written and tested against: check its overrides "
        "against this release, then widen UVICORN_RANGE and pyproject.toml together"
    )
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    [uvicorn] = [
        Requirement(line)
        for line in pyproject["project"]["dependencies"]
        if Requirement(line).name == "uvicorn"
    ]
    assert uvicorn.specifier == SpecifierSet(UVICORN_RANGE)


def test_the_parent_protocol_still_has_what_the_subclass_reads_and_replaces() -> None:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    parent = vars(WebSocketsSansIOProtocol)
    used = set(re.findall(r"self\.(\w+)", inspect.getsource(WebSocketsSansIOProtocol)))
    missing = [name for name in PARENT_STATE if name not in used]
    assert not missing, f"uvicorn {UVICORN}'s websockets-sansio protocol has no {missing}"
    gone = [name for name in PARENT_METHODS if name not in parent]
    assert not gone, f"uvicorn {UVICORN}'s websockets-sansio protocol no longer defines {gone}"
    # The stand-ins for its asyncio.Queue and asyncio.Event have every method that the
    # parent's code still running under the subclass calls (its own receive is replaced).
    kept = "\n".join(
        inspect.getsource(member)
        for name, member in parent.items()
        if inspect.isfunction(member) and name not in vars(LiveWebSocketProtocol)
    )
    for attribute, stand_in in (("queue", Inbox), ("writable", Gate)):
        calls = set(re.findall(rf"self\.{attribute}\.(\w+)", kept))
        lacking = sorted(calls - set(dir(stand_in)))
        assert not lacking, f"uvicorn {UVICORN} calls {attribute}.{lacking}: {stand_in} lacks it"


class EchoNow:
    """Accepts, then answers each text with what ``send_now`` said, written both ways."""

    def __init__(self) -> None:
        self.said: list[Said] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        send_now: Callable[[str], bool] | None = scope["extensions"].get(SEND_NOW)
        assert send_now is not None
        await receive()
        self.said.append({"before_accept": send_now("too early")})
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            written = send_now(f"now:{message['text']}")
            await send({"type": "websocket.send", "text": f"sent:{message['text']}"})
            self.said.append({"text": message["text"], "written": written})
        self.said.append({"after_close": send_now("too late")})


@pytest.fixture(params=[False, True], ids=["plain", "deflate"])
async def echo(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, EchoNow, bool]]:
    app = EchoNow()
    options = {"lifespan": "off", "ws_per_message_deflate": request.param}
    async with uvicorn_in_loop(app, **options) as port:
        yield f"ws://127.0.0.1:{port}/", app, request.param


async def test_send_now_writes_in_order_with_websocket_send_and_refuses_when_it_cannot(
    echo: tuple[str, EchoNow, bool],
) -> None:
    """It writes plain frames only: before the accept, after the close or with an
    extension (permessage-deflate) it says no, and the app sends the usual way."""
    url, app, deflate = echo
    texts = ("a", "héllo", "x" * 70_000)  # 1-, 2- and 8-byte payload lengths
    async with connect(url, max_size=2**20) as ws:
        got = []
        for text in texts:
            await ws.send(text)
            got += [await ws.recv() for _ in range(1 if deflate else 2)]
    for _ in range(100):  # the app notes the close after the client has seen it
        if "after_close" in app.said[-1]:
            break
        await asyncio.sleep(0.02)
    hows = ("sent",) if deflate else ("now", "sent")
    assert got == [f"{how}:{text}" for text in texts for how in hows]
    assert app.said[0] == {"before_accept": False}
    assert [s["written"] for s in app.said[1:-1]] == [not deflate] * 3
    assert app.said[-1] == {"after_close": False}


class Burst:
    """On "go", writes ``count`` big frames: ``send_now`` while it takes them, else ``send``."""

    def __init__(self, count: int, size: int) -> None:
        self.count, self.size = count, size
        self.now = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        send_now: Callable[[str], bool] = scope["extensions"][SEND_NOW]
        await receive()
        await send({"type": "websocket.accept"})
        await receive()  # "go"
        for i in range(self.count):
            text = f"{i}:" + chr(ord("a") + i % 26) * self.size
            if send_now(text):
                self.now += 1
            else:
                await send({"type": "websocket.send", "text": text})
        await receive()


async def test_frames_written_now_to_a_client_that_is_not_reading_arrive_whole_and_in_order() -> (
    None
):
    """A client that stops reading fills the kernel's buffers: frames written now are
    then buffered by the transport until flow control stops ``send_now``, and the app
    sends the rest the waiting way. Every frame must still arrive whole, in order."""
    app = Burst(count=64, size=256 * 1024)
    async with uvicorn_in_loop(app, lifespan="off") as port:
        url = f"ws://127.0.0.1:{port}/"
        async with connect(url, compression=None, max_size=2**20, max_queue=1) as ws:
            await ws.send("go")
            await asyncio.sleep(0.5)  # not reading: the queue of 1 stops the client's reads
            got = [await asyncio.wait_for(ws.recv(), 10) for _ in range(app.count)]
    expected = [f"{i}:" + chr(ord("a") + i % 26) * app.size for i in range(app.count)]
    assert [g[:8] for g in got] == [e[:8] for e in expected]
    assert got == expected
    assert 0 < app.now < app.count  # some written at once, the rest after waiting


def test_a_text_frame_is_websockets_own_unmasked_frame() -> None:
    for text in ("", "hé", "x" * 200, "y" * 70_000):
        expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
        assert text_frame(text) == expected


async def test_the_inbox_wakes_its_reader_and_the_gate_its_waiters() -> None:
    inbox, gate = Inbox(), Gate()
    inbox.waiter = asyncio.get_running_loop().create_future()
    assert inbox.empty()
    inbox.put_nowait({"type": "websocket.connect"})
    assert inbox.waiter.done()
    assert not inbox.empty()
    gate.clear()
    waiting = asyncio.ensure_future(gate.wait())
    await asyncio.sleep(0)
    assert not waiting.done()
    gate.set()
    await asyncio.wait_for(waiting, 1)


class Lend:
    """Accepts, lends the test its socket's protocol, and notes what the client sends."""

    def __init__(self) -> None:
        self.protocol: Any = None
        self.accepted = asyncio.Event()
        self.received: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        self.protocol = scope["extensions"][SEND_NOW].__self__
        self.accepted.set()
        while (message := await receive())["type"] == "websocket.receive":
            self.received.append(message["text"])


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out waiting")


async def _frames(reader: asyncio.StreamReader, client: ClientProtocol, count: int) -> list[Frame]:
    frames: list[Frame] = []
    while len(frames) < count:
        client.receive_data(await asyncio.wait_for(reader.read(2**20), 10))
        frames += [e for e in client.events_received() if isinstance(e, Frame)]
    return frames


async def test_frames_never_overtake_bytes_the_transport_holds_uvicorns_own_included() -> None:
    """``send_now`` writes to the descriptor only while the transport holds nothing. A
    client that reads nothing fills the kernel's buffers, a short write leaves the rest
    with the transport, and then neither uvicorn's own write (a ping) nor a frame from
    the client may reopen that path; once the client has read it all, the next frame
    does. Every byte arrives in the order it was given."""
    app = Lend()
    async with uvicorn_in_loop(app, lifespan="off", ws_ping_interval=None) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/"))
        client.send_request(client.connect())
        writer.write(b"".join(client.data_to_send()))
        await asyncio.wait_for(app.accepted.wait(), 10)
        while not client.events_received():
            client.receive_data(await asyncio.wait_for(reader.read(4096), 10))
        server = app.protocol
        assert server.direct == server.fd is not None  # accepted, open, nothing held

        sent: list[str] = []
        while not server.raw.get_write_buffer_size():  # the client reads nothing
            sent.append(f"{len(sent)}:" + "x" * 65_536)
            assert server.send_now(sent[-1])
        assert server.direct is None
        server.transport.write(Frame(Opcode.PING, b"held").serialize(mask=False))
        assert server.direct is None
        client.send_text(b"hello")
        writer.write(b"".join(client.data_to_send()))
        await _until(lambda: bool(app.received))
        assert server.direct is None

        frames = await _frames(reader, client, len(sent) + 1)
        assert [f.opcode for f in frames] == [Opcode.TEXT] * len(sent) + [Opcode.PING]
        assert [f.data.decode() for f in frames[:-1]] == sent
        await _until(lambda: not server.raw.get_write_buffer_size())
        assert server.send_now("after")
        assert server.direct == server.fd  # the transport had sent it all
        assert [f.data for f in await _frames(reader, client, 1)] == [b"after"]

        writer.close()
        await _until(lambda: server.disconnected)
        assert server.direct is None
        assert not server.send_now("gone")
