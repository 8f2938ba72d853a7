"""A Redis and a PostgreSQL that a test owns: its own processes, data and loopback ports.

Nothing here touches the machine's own servers: each is started from its binary
in a temporary directory, on a free port of 127.0.0.1, and the test kills,
pauses or restarts it at will. PostgreSQL refuses to run as root, so as root its
processes run as the ``postgres`` user (Debian's packages make it), or
``nobody`` where there is none, owning their directory.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from tests.conftest import free_port


def missing_binaries() -> list[str]:
    """What these servers need that this machine lacks (empty: nothing)."""
    missing = [] if shutil.which("redis-server") else ["redis-server"]
    if _pg_bin() is None:
        missing.append("PostgreSQL (initdb, postgres)")
    return missing


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_version)
    if found:
        return Path(found[-1]).parent
    postgres = shutil.which("postgres")
    return Path(postgres).parent if postgres and shutil.which("initdb") else None


def _version(path: str) -> float:
    try:
        return float(Path(path).parent.parent.name)
    except ValueError:
        return 0.0


async def _wait(process: asyncio.subprocess.Process) -> None:
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        process.kill()
        await process.wait()


class RedisServer:
    """``redis-server`` on a free loopback port, its dump in its own directory.

    It saves only when told (:meth:`save`): a restart with the dump is a Redis
    with persistence coming back from its last snapshot (numbers rolled back),
    one without is a Redis without persistence (everything gone).
    """

    def __init__(self, root: Path) -> None:
        self.dir = root / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with (self.dir / "redis.log").open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)),
                *("--save", "", "--appendonly", "no", "--dbfilename", "dump.rdb"),
                stdout=out,
                stderr=out,
            )
        for _ in range(200):
            if await self._answers():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("redis-server did not start")

    async def _answers(self) -> bool:
        redis = Redis.from_url(self.url, socket_timeout=1)
        try:
            return bool(await redis.ping())
        except Exception:
            return False
        finally:
            await redis.aclose()

    async def save(self) -> None:
        redis = Redis.from_url(self.url)
        try:
            await redis.save()
        finally:
            await redis.aclose()

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def restart(self, *, persistent: bool) -> None:
        """Kill it (no chance to save) and start it again, from the last :meth:`save`
        when ``persistent``, else empty."""
        await self.kill()
        if not persistent:
            (self.dir / "dump.rdb").unlink(missing_ok=True)
        await self.start()

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            await _wait(self.process)


class PostgresServer:
    """A PostgreSQL cluster made by ``initdb`` in a temporary directory (trust
    authentication, loopback only), run by its ``postgres`` binary."""

    def __init__(self) -> None:
        bin_dir = _pg_bin()
        assert bin_dir is not None, "PostgreSQL binaries not found"
        self.bin = bin_dir
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self.root = Path(tempfile.mkdtemp(prefix="festival-faults-pg-"))
        self.data = self.root / "data"
        self.process: asyncio.subprocess.Process | None = None
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                account = pwd.getpwnam("nobody")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    async def init(self) -> None:
        # Blocking on purpose: it runs once, before the servers it serves exist.
        subprocess.run(  # noqa: ASYNC221
            [
                str(self.bin / "initdb"),
                *("-D", str(self.data), "-U", "postgres", "--auth=trust"),
                *("--no-sync", "-E", "UTF8", "--locale=C"),
            ],
            check=True,
            capture_output=True,
            cwd=self.root,
            **self._as,
        )

    async def start(self) -> None:
        with (self.root / "postgres.log").open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                str(self.bin / "postgres"),
                *("-D", str(self.data), "-p", str(self.port), "-k", str(self.root)),
                *("-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"),
                *("-c", "max_connections=200", "-c", "synchronous_commit=off"),
                stdout=out,
                stderr=out,
                cwd=self.root,
                **self._as,
            )
        for _ in range(500):
            if await self._answers():
                return
            assert self.process.returncode is None, (self.root / "postgres.log").read_text()
            await asyncio.sleep(0.02)
        raise AssertionError("postgres did not start")

    async def _answers(self) -> bool:
        import asyncpg  # type: ignore[import-untyped]

        try:
            connection = await asyncpg.connect(
                host="127.0.0.1", port=self.port, user="postgres", database="postgres", timeout=1
            )
        except Exception:
            return False
        await connection.close()
        return True

    async def restart(self) -> None:
        """A fast shutdown (open connections are cut, as a restart does), then a start."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        await _wait(self.process)
        await self.start()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            await _wait(self.process)
        shutil.rmtree(self.root, ignore_errors=True)
