"""Helpers of bench.ws_fanout: a prepared database, server readiness, askers, Redis clean-up."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from websockets.sync.client import ClientConnection, connect


@dataclass
class Setup:
    db_url: str
    session_id: uuid.UUID
    tokens: list[str]
    askers: list[str]
    question_ids: list[str]
    env: dict[str, str] = field(default_factory=dict)
    moderator: str = ""  # a staff moderator token scoped to the session

    def ws_url(self, port: int, raw: str) -> str:
        return f"ws://127.0.0.1:{port}/ws/sessions/{self.session_id}?token={raw}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def prepare(
    path: Path, db_url: str | None, voters: int, questions: int, pre_moderated: bool = False
) -> Setup:
    """A migrated database with a live session, approved questions, attendee tokens
    and a moderator's; with ``pre_moderated``, new questions wait for the moderator."""
    url = db_url or f"sqlite+aiosqlite:///{path}"
    setup = asyncio.run(_prepare(url, voters, questions, pre_moderated))
    setup.env = dict(os.environ) | {
        "FESTIVAL_DATABASE_URL": url,
        # As deployed: production freezes what start-up made out of the GC's way.
        "FESTIVAL_ENVIRONMENT": "production",
        "FESTIVAL_SECRET_KEY": "bench-secret-key-not-for-production",
        "FESTIVAL_LOG_LEVEL": "WARNING",
        # Every socket of the largest size, and the askers: not the 503 past the default.
        "FESTIVAL_MAX_CONNECTIONS": "12000",
    }
    setup.env.pop("FESTIVAL_REDIS_URL", None)
    return setup


async def _prepare(url: str, voters: int, questions: int, pre_moderated: bool) -> Setup:
    from festival.auth import issue_token
    from festival.db import make_engine, make_sessionmaker, unit_of_work, utcnow
    from festival.migrate import upgrade
    from festival.models import Account, Festival
    from realtime.models import LiveChannel, Question
    from schedule.models import Session

    engine = make_engine(url)
    await upgrade(engine)
    async with unit_of_work(make_sessionmaker(engine)) as db:
        owner = Account(id=uuid.uuid4(), email=f"{uuid.uuid4().hex}@bench", password_hash="x")
        festival = Festival(
            id=uuid.uuid4(),
            owner_id=owner.id,
            slug=f"bench-{uuid.uuid4().hex[:8]}",
            name="Bench",
            timezone="UTC",
            starts_on=date(2030, 1, 1),
            ends_on=date(2030, 1, 2),
            mode="online",
            capacity=100_000,
            published_at=utcnow(),
            settings={},
        )
        talk = Session(
            id=uuid.uuid4(),
            festival_id=festival.id,
            title="Keynote",
            format="keynote",
            starts_at=datetime(2030, 1, 1, 9, tzinfo=UTC),
            ends_at=datetime(2030, 1, 1, 10, tzinfo=UTC),
            live_qa=True,
        )
        db.add(owner)
        await db.flush()
        db.add(festival)
        await db.flush()
        db.add(talk)
        await db.flush()
        channel = LiveChannel(
            session_id=talk.id, festival_id=festival.id, pre_moderation=pre_moderated
        )
        db.add(channel)
        made = [
            Question(
                id=uuid.uuid4(),
                session_id=talk.id,
                author_id=uuid.uuid4(),
                author_name="Bench",
                anonymous=False,
                text=f"Storm question {i}?",
                status="approved",
                highlighted=False,
                votes=0,
                votes_version=0,
                revision=0,
            )
            for i in range(questions)
        ]
        db.add_all(made)
        tokens, askers = [], []
        for i in range(voters + 40):
            _, raw = await issue_token(
                db, "attendee", festival_id=festival.id, subject_id=uuid.uuid4(), label=f"A{i}"
            )
            (tokens if i < voters else askers).append(raw)
        _, moderator = await issue_token(
            db,
            "staff",
            festival_id=festival.id,
            role="moderator",
            session_ids=[str(talk.id)],
            label="Bench moderator",
        )
    await engine.dispose()
    setup = Setup(url, talk.id, tokens, askers, [str(q.id) for q in made])
    setup.moderator = moderator
    return setup


def db_counts(setup: Setup) -> dict[str, int]:
    async def _read() -> dict[str, int]:
        from sqlalchemy import select

        from festival.db import make_engine
        from realtime.models import Question

        engine = make_engine(setup.db_url)
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(Question.id, Question.votes).where(Question.session_id == setup.session_id)
            )
            out = {str(i): int(v) for i, v in rows}
        await engine.dispose()
        return out

    return asyncio.run(_read())


async def wait_ready(url: str, proc: asyncio.subprocess.Process, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError("the server died on start")
        try:
            async with httpx.AsyncClient(timeout=1) as http:
                if (await http.get(url + "/healthz")).status_code == 200:
                    return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError("the server did not come up")


async def wait_port(port: int, proc: asyncio.subprocess.Process, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError("the server died on start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            await asyncio.sleep(0.1)
    raise TimeoutError("the server did not come up")


class Asker:
    """Attendee sockets that ask the timed questions (one asker per question: rate limits)."""

    def __init__(self, port: int, setup: Setup) -> None:
        self.conns: list[ClientConnection] = [
            connect(setup.ws_url(port, raw), max_queue=None) for raw in setup.askers[:12]
        ]
        self.next = 0

    def ask(self, marker: str) -> None:
        conn = self.conns[self.next % len(self.conns)]
        self.next += 1
        frame = {"type": "question.ask", "id": marker, "data": {"text": f"{marker} padding?"}}
        conn.send(json.dumps(frame))

    def close(self) -> None:
        for conn in self.conns:
            conn.close()


class RawTrigger:
    """Asks the raw baseline server to broadcast one frame carrying the marker."""

    def __init__(self, port: int) -> None:
        self.conn = connect(f"ws://127.0.0.1:{port}/trigger", max_queue=None)

    def send(self, marker: str) -> None:
        self.conn.send(marker)

    def close(self) -> None:
        self.conn.close()


def forget_redis(url: str, prefix: str) -> None:
    async def _forget() -> None:
        from redis.asyncio import Redis

        redis = Redis.from_url(url)
        for key in await redis.keys(f"{prefix}:*"):
            await redis.delete(key)
        await redis.aclose()

    asyncio.run(_forget())
