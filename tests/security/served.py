"""``festival serve`` as an operator runs it: a subprocess on a loopback port, its log in a file.

For what only the real command shows: the access log uvicorn writes with the
logging ``festival serve`` sets up, the options it passes uvicorn (connection
limits), and the memory of the process that answers.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.test_cli import FESTIVAL


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def resident(self) -> int:
        """Bytes of the serving process's resident memory now (``VmRSS`` in /proc)."""
        return self._status("VmRSS")

    def peak(self) -> int:
        """Its peak resident memory since :meth:`reset_peak` (``VmHWM``): a body read
        and freed again between two looks at ``VmRSS`` still shows here."""
        return self._status("VmHWM")

    def reset_peak(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def _status(self, field: str) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(row for row in status.splitlines() if row.startswith(f"{field}:"))
        return int(line.split()[1]) * 1024

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def festival_serve(tmp_path: Path, database_url: str, **env: str) -> Iterator[Served]:
    """``festival serve`` (one process) on a free port, against a migrated database."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    environment = {
        **os.environ,
        "FESTIVAL_DATABASE_URL": database_url,
        "FESTIVAL_SECRET_KEY": "test-secret-key-not-for-production",
        "FESTIVAL_BASE_URL": f"http://127.0.0.1:{port}",
        **env,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [FESTIVAL, "serve", "--port", str(port)],
            cwd=tmp_path,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = Served(process, port, log)
    try:
        _wait_until_up(served)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(served: Served, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise AssertionError(f"festival serve exited:\n{served.log_text()}")
        try:
            if httpx.get(f"{served.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"festival serve did not answer in {timeout} s:\n{served.log_text()}")
