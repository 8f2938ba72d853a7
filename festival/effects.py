"""The after-commit effects buffer.

Broadcasts, e-mails and anything else the outside world hears of wait in a buffer
attached to the database session. The edge that owns the transaction runs them
after the commit and drops them on rollback, so nobody is told of a change that
did not happen. Effects run in order; one that fails is logged, not re-raised:
the commit already happened.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

Effect = Callable[[], Awaitable[None]]
_KEY = "festival.effects"
log = logging.getLogger(__name__)


def defer(session: AsyncSession, effect: Effect) -> None:
    """Run ``effect`` after this session's unit of work commits."""
    session.info.setdefault(_KEY, []).append(effect)


def drop(session: AsyncSession) -> None:
    session.info.pop(_KEY, None)


async def run_deferred(session: AsyncSession) -> None:
    effects: list[Effect] = session.info.pop(_KEY, [])
    for effect in effects:
        try:
            await effect()
        except Exception:
            log.exception("after-commit effect failed")


async def commit(session: AsyncSession) -> None:
    """Commit the unit of work, then run its effects."""
    try:
        await session.commit()
    except BaseException:
        drop(session)
        raise
    await run_deferred(session)


async def rollback(session: AsyncSession) -> None:
    drop(session)
    await session.rollback()
