"""Factories for live sessions: a festival with a live session, and the tokens to join it.

Sessions are made through the ORM (the programme API is someone else's), and
attendee tokens are issued directly: realtime must not depend on tickets.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from festival.auth import issue_token, resolve_principal
from festival.db import make_sessionmaker, unit_of_work, utcnow
from festival.models import Festival
from realtime import access
from realtime.hub import Hub
from realtime.live import LiveContext
from schedule.models import Session
from tests.factories.festival import organiser


@dataclass
class Live:
    festival_id: uuid.UUID
    session_id: uuid.UUID
    organiser_token: str
    engine: AsyncEngine

    async def attendee(self, label: str = "Ada Lovelace") -> str:
        return await token(self.engine, "attendee", self.festival_id, label=label)

    async def moderator(self, *, scoped: bool = True) -> str:
        sessions = [str(self.session_id)] if scoped else None
        return await token(
            self.engine, "staff", self.festival_id, role="moderator", session_ids=sessions
        )

    async def projector(self) -> str:
        return await token(
            self.engine, "projector", self.festival_id, session_ids=[str(self.session_id)]
        )

    async def enter(self, hub: Hub, raw: str) -> LiveContext:
        """The context of the token ``raw`` in this live session, as a socket joining gets it."""
        async with unit_of_work(make_sessionmaker(self.engine)) as session:
            principal = await resolve_principal(session, raw)
            return await access.enter(session, principal, self.session_id, hub)


async def token(
    engine: AsyncEngine,
    kind: str,
    festival_id: uuid.UUID,
    *,
    role: str | None = None,
    session_ids: list[str] | None = None,
    label: str | None = None,
) -> str:
    async with unit_of_work(make_sessionmaker(engine)) as session:
        _, raw = await issue_token(
            session,
            kind,
            festival_id=festival_id,
            role=role,
            session_ids=session_ids,
            subject_id=uuid.uuid4() if kind == "attendee" else None,
            label=label,
        )
    return raw


async def live_session(engine: AsyncEngine, *, live_qa: bool = True) -> Live:
    """A published festival with one session (live Q&A on unless asked otherwise)."""
    owner_id, owner_token = await organiser(engine)
    async with unit_of_work(make_sessionmaker(engine)) as session:
        festival = Festival(
            id=uuid.uuid4(),
            owner_id=owner_id,
            slug=f"live-{uuid.uuid4().hex[:8]}",
            name="Live Festival",
            timezone="Europe/Amsterdam",
            starts_on=date(2030, 10, 8),
            ends_on=date(2030, 10, 9),
            mode="online",
            capacity=100,
            published_at=utcnow(),
            settings={},
        )
        session.add(festival)
        await session.flush()
        talk = Session(
            id=uuid.uuid4(),
            festival_id=festival.id,
            title="Keynote",
            format="keynote",
            starts_at=datetime(2030, 10, 8, 9, tzinfo=UTC),
            ends_at=datetime(2030, 10, 8, 10, tzinfo=UTC),
            live_qa=live_qa,
        )
        session.add(talk)
    return Live(festival.id, talk.id, owner_token, engine)
