"""Two `festival serve` nodes on a PostgreSQL and a Redis of their own
(:mod:`tests.faults.processes`), for the fault suite and ``bench.faults``."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from festival.db import make_engine
from festival.migrate import upgrade
from tests.conftest import METRICS_TOKEN
from tests.faults.processes import PostgresServer, RedisServer
from tests.realtime.nodes import Node, start_node, stop_node


@dataclass
class Cluster:
    redis: RedisServer
    postgres: PostgresServer
    engine: AsyncEngine
    env: dict[str, str]
    nodes: list[Node]
    root: Path

    async def restart_postgres(self) -> None:
        """Restart PostgreSQL; this side's own pooled connections die with it."""
        await self.postgres.restart()
        await self.engine.dispose()

    async def restart_node(self, index: int) -> Node:
        """Start node ``index`` again (after a kill) on its port, with its log."""
        old = self.nodes[index]
        await stop_node(old)
        self.nodes[index] = await start_node(self.env, old.port, old.log)
        return self.nodes[index]


@asynccontextmanager
async def running_cluster() -> AsyncIterator[Cluster]:
    """Redis, PostgreSQL (migrated) and two nodes; all stopped and removed after."""
    root = Path(tempfile.mkdtemp(prefix="festival-faults-"))
    redis = RedisServer(root)
    postgres = PostgresServer()
    nodes: list[Node] = []
    engine: AsyncEngine | None = None
    try:
        await redis.start()
        await postgres.init()
        await postgres.start()
        engine = make_engine(postgres.url, pool_size=5)
        await upgrade(engine)
        env = dict(os.environ) | {
            "FESTIVAL_DATABASE_URL": postgres.url,
            "FESTIVAL_REDIS_URL": redis.url,
            "FESTIVAL_REDIS_PREFIX": f"faults-{uuid.uuid4().hex[:8]}",
            "FESTIVAL_ENVIRONMENT": "test",
            "FESTIVAL_SECRET_KEY": "fault-suite-secret-not-for-production",
            "FESTIVAL_LOG_LEVEL": "WARNING",
            "FESTIVAL_RATE_LIMITS": "off",
            "FESTIVAL_METRICS_TOKEN": METRICS_TOKEN,
            "FESTIVAL_DB_POOL_SIZE": "10",
        }
        for name in ("a", "b"):
            nodes.append(await start_node(env, log=root / f"node-{name}.log"))
        yield Cluster(redis, postgres, engine, env, nodes, root)
    finally:
        for node in nodes:
            await stop_node(node)
        if engine is not None:
            await engine.dispose()
        await postgres.stop()
        await redis.stop()
        shutil.rmtree(root, ignore_errors=True)
