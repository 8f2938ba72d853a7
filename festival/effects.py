"""The after-commit effects buffer.

Broadcasts, e-mails and anything else the outside world hears of wait in a buffer
attached to the database session. The edge that owns the transaction runs them
after the commit and drops them on rollback, so nobody is told of a change that
did not happen. Effects run in order; one that fails is logged, not re-raised:
the commit already happened.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

Effect = Callable[[], Awaitable[None]]
Ended = Callable[[uuid.UUID], Awaitable[None]]
Told = Callable[[uuid.UUID, dict[str, Any]], Awaitable[None]]
_KEY = "festival.effects"
log = logging.getLogger(__name__)
_ended: list[Ended] = []
_told: list[Told] = []


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


def on_access_ended(listener: Ended) -> Callable[[], None]:
    """Call ``listener(subject_id)`` after each commit that ended the access of a
    token's subject (a cancelled registration); returns the unsubscription.

    The live runtime listens here (subscribed by the API at start-up) to close the
    subject's sockets: ``tickets`` and ``realtime`` never import each other.
    """
    _ended.append(listener)
    return lambda: _ended.remove(listener) if listener in _ended else None


def access_ended(session: AsyncSession, subject_id: uuid.UUID) -> None:
    """Tell the listeners that ``subject_id``'s access ended, once this session commits."""

    async def _tell() -> None:
        for listener in list(_ended):
            try:
                await listener(subject_id)
            except Exception:
                log.exception("an access-ended listener failed")

    defer(session, _tell)


def on_attendee_told(listener: Told) -> Callable[[], None]:
    """Call ``listener(subject_id, notice)`` after each commit that has news for one
    attendee (a seat that came free for them); returns the unsubscription. The live
    runtime listens, to show it on the attendee's open live pages."""
    _told.append(listener)
    return lambda: _told.remove(listener) if listener in _told else None


def tell_attendee(session: AsyncSession, subject_id: uuid.UUID, notice: dict[str, Any]) -> None:
    """Tell the listeners ``notice`` for ``subject_id`` once this session commits."""

    async def _tell() -> None:
        for listener in list(_told):
            try:
                await listener(subject_id, notice)
            except Exception:
                log.exception("an attendee-told listener failed")

    defer(session, _tell)
