"""The demo festivals, loaded by ``festival demo`` and ``make run``.

Loading is idempotent: every step finds what it made before and leaves it be.
Each capability adds its own step (programme, registrations, live sessions).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.cli.demo import attendees, live_sessions, programme
from festival.auth import Principal, create_organiser, hash_password
from festival.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from festival.models import Account, Festival
from festival.settings import Settings

DEMO_EMAIL = "organiser@demo.festival"
DEMO_PASSWORD = "festival-demo"

FESTIVALS: list[dict[str, Any]] = [
    {
        "slug": "innovation-festival-2020",
        "name": "Innovation Festival 2020",
        "timezone": "Europe/Amsterdam",
        "starts_on": date(2020, 10, 8),
        "ends_on": date(2020, 10, 9),
        "mode": "online",
        "capacity": 1500,
        "description": (
            "The first fully online edition of the network's yearly Innovation Festival: "
            "two days of keynotes, workshops, a showcase of digital innovations from the "
            "Global South and a food hackathon."
        ),
    },
    {
        # On now (today and tomorrow where it is held), so that a newcomer can register,
        # join the live Q&A and see the door's morning; its dates are set on first load.
        "slug": "innovation-impulse",
        "name": "Innovation Impulse",
        "timezone": "Europe/Amsterdam",
        "starts_on": "today",
        "ends_on": "tomorrow",
        "mode": "hybrid",
        "capacity": 400,  # the hall
        "online_capacity": 2000,  # the stream
        "description": (
            "A hybrid edition: on site in The Hague and online, on shifting the power "
            "and digital partnerships."
        ),
    },
]


async def _organiser(session: AsyncSession) -> Account:
    account = await session.scalar(select(Account).where(Account.email == DEMO_EMAIL))
    if account is None:
        account, _ = await create_organiser(session, DEMO_EMAIL, DEMO_PASSWORD, "Demo organiser")
    else:
        account.password_hash = await hash_password(DEMO_PASSWORD)
    return account


async def _festivals(session: AsyncSession, owner: Account) -> list[Festival]:
    made = []
    for spec in FESTIVALS:
        festival = await session.scalar(select(Festival).where(Festival.slug == spec["slug"]))
        if festival is None:
            festival = Festival(
                id=uuid.uuid4(),
                owner_id=owner.id,
                published_at=utcnow(),
                settings={},
                **_dated(spec),
            )
            session.add(festival)
        elif festival.online_capacity is None and spec.get("online_capacity"):
            festival.online_capacity = spec["online_capacity"]  # a demo loaded before lines
        made.append(festival)
    await session.flush()
    return made


def _dated(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with "today" and "tomorrow" made dates in the festival's time zone."""
    today = datetime.now(ZoneInfo(spec["timezone"])).date()
    days = {"today": today, "tomorrow": today + timedelta(days=1)}
    return {
        key: days.get(value, value) if key.endswith("_on") else value for key, value in spec.items()
    }


def organiser_principal(owner: Account) -> Principal:
    return Principal(kind="organiser", token_id=uuid.uuid4(), account_id=owner.id)


async def load_demo(settings: Settings) -> list[str]:
    """Load the demo and return lines worth printing (credentials, links)."""
    engine = make_engine(settings.database_url)
    lines: list[str] = []
    try:
        async with unit_of_work(make_sessionmaker(engine)) as session:
            owner = await _organiser(session)
            festivals = await _festivals(session, owner)
            lines.append(f"organiser: {DEMO_EMAIL} / {DEMO_PASSWORD}")
            for festival in festivals:
                lines.append(f"festival: {settings.base_url}/f/{festival.slug}")
            for step in (programme, attendees, live_sessions):
                lines += await step.load(session, owner, festivals, settings)
    finally:
        await engine.dispose()
    return lines
