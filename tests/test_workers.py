"""`festival serve --workers 2`, run as an operator would: workers share the load and the port."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.test_cli import FESTIVAL, run

Served = tuple[subprocess.Popen[str], int, Path]  # the parent, its port, its folder


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the module (starting two workers takes seconds): the tests
    run in order, and the last one stops it."""
    tmp_path = tmp_path_factory.mktemp("workers")
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    port = free_port()
    env = {**os.environ, "FESTIVAL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    parent = subprocess.Popen(
        [FESTIVAL, "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: len(_listening(port)) == 2, "two workers listening")
        yield parent, port, tmp_path
    finally:
        workers = _children(parent.pid)
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_connections_are_spread_over_both_workers(
    served: Served,
) -> None:
    _, port, _ = served
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(32)]
    for connection in connections:
        connection.request("GET", "/healthz")
        assert connection.getresponse().read() == b'{"status":"ok"}'
    workers = _listening(port)
    # Only the server's processes: another's outgoing connection may have this
    # number as its own (ephemeral) port.
    held = {pid: n for pid, n in _established(port).items() if pid in workers}
    assert all(held.get(pid, 0) >= 4 for pid in workers), held  # 32 by a hash: never 28 to 4
    for connection in connections:
        connection.close()


def test_a_second_server_on_the_port_is_refused(
    served: Served,
) -> None:
    _, port, folder = served
    second = run(["serve", "--port", str(port), "--workers", "2"], folder)
    assert second.returncode == 1
    assert second.stderr.strip().splitlines() == [
        f"error: 127.0.0.1:{port} is in use by another process"
    ]


def test_a_dead_worker_is_replaced_and_sigterm_stops_all(
    served: Served,
) -> None:
    parent, port, _ = served
    first = _listening(port)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: len(_listening(port)) == 2 and victim not in _listening(port), "a new worker")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/healthz")
    assert connection.getresponse().status == 200
    connection.close()
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=30) == 0
    assert _listening(port) == set()
    assert not _children(parent.pid)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _sockets(port: int, state: str) -> set[int]:
    """Inodes of IPv4 TCP sockets in ``state`` (01 established, 0A listening) on local ``port``."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
            inodes.add(int(fields[9]))
    return inodes


def _owners(inodes: set[int]) -> dict[int, int]:
    """How many of ``inodes`` each process holds."""
    held: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:
            continue
        count = sum(
            1 for link in links if link.startswith("socket:[") and int(link[8:-1]) in inodes
        )
        if count:
            held[int(entry.name)] = count
    return held


def _listening(port: int) -> set[int]:
    return set(_owners(_sockets(port, "0A")))


def _established(port: int) -> dict[int, int]:
    return _owners(_sockets(port, "01"))
