"""Retention: a festival's personal data is purged ``retention_days`` after its end.

:func:`purge_expired` looks for festivals whose retention is over and whose data
is not purged yet, and purges each in a transaction of its own that first
claims it (``UPDATE festivals SET personal_data_purged_at = now WHERE ... IS
NULL``): on PostgreSQL a second process waiting on that row finds it claimed
once the first commits, and SQLite has one writer, so every process may run
the job at once and each festival is purged exactly once. A second run finds
nothing to do and changes nothing. ``festival serve`` runs it a minute after
start and then every hour (:func:`purge_forever`); ``festival purge`` runs it
once, by hand.

What is purged is what erasure removes for one attendee, for all of the
festival's (:mod:`tickets.privacy`, :mod:`realtime.privacy`), plus its
speakers' private addresses and its open invitations; the programme, the
counts and the poll results stay.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from festival import privacy
from festival.db import READ_ONLY, utcnow
from festival.models import Festival, PrivacyLogEntry

log = logging.getLogger("festival.retention")
EVERY = 3600.0  # seconds between two runs of a serving process
FIRST = 60.0  # seconds after start-up of the first run (start-up is busy enough)


def expired(festival_ends_on: date, retention_days: int, today: date) -> bool:
    """Whether the retention after a festival's last day is over on ``today`` (UTC)."""
    return festival_ends_on + timedelta(days=retention_days) < today


async def purge_expired(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime | None = None
) -> list[str]:
    """Purge every festival whose retention is over; the slugs purged by this call.

    The packages' sections must be installed (``festival.privacy.register``: the
    app's start and ``festival purge`` do it)."""
    now = now or utcnow()
    async with sessionmaker() as session:
        # A read that takes no write lock on SQLite (BEGIN DEFERRED): the job
        # should not queue requests behind it.
        await session.connection(execution_options={READ_ONLY: True})
        due = (
            await session.execute(
                select(Festival.id, Festival.slug, Festival.ends_on, Festival.retention_days).where(
                    Festival.personal_data_purged_at.is_(None)
                )
            )
        ).all()
    purged = []
    for festival_id, slug, ends_on, days in due:
        if expired(ends_on, days, now.date()) and await _purge_one(sessionmaker, festival_id, now):
            log.info("purged the personal data of %s (%d days after its end)", slug, days)
            purged.append(slug)
    return purged


async def _purge_one(
    sessionmaker: async_sessionmaker[AsyncSession], festival_id: uuid.UUID, now: datetime
) -> bool:
    async with sessionmaker() as session, session.begin():
        claimed = await session.execute(
            update(Festival)
            .where(Festival.id == festival_id, Festival.personal_data_purged_at.is_(None))
            .values(personal_data_purged_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return False  # another process purged it first
        await privacy.purge(session, festival_id)
        session.add(
            PrivacyLogEntry(
                id=uuid.uuid4(), festival_id=festival_id, action="purge", detail="retention", at=now
            )
        )
    return True


async def purge_forever(
    sessionmaker: async_sessionmaker[AsyncSession], *, first: float = FIRST, every: float = EVERY
) -> None:
    """Run :func:`purge_expired` ``first`` seconds after start, then every ``every``
    seconds, until cancelled; a failure (the database away) waits for the next run."""
    await asyncio.sleep(first)
    while True:
        try:
            await purge_expired(sessionmaker)
        except Exception:
            log.exception("the retention purge failed; trying again later")
        await asyncio.sleep(every)
