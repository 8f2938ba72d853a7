"""Domain events, handled inside the unit of work that raised them.

A lower package announces what happened (``await announce(session, event)``);
an upper package that cares registers a handler at start-up. Handlers run in
the same transaction, so what they write (an outbox row, say) commits or rolls
back with the change itself. For what the outside world hears of, handlers use
:func:`festival.effects.defer`, which waits for the commit.

Arrows still point down: ``schedule`` never imports ``tickets``; ``tickets``
subscribes to ``schedule``'s events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

E = TypeVar("E")
Handler = Callable[[AsyncSession, Any], Awaitable[None]]
_handlers: dict[type, list[Handler]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[AsyncSession, E], Awaitable[None]]) -> None:
    """Call ``handler`` for every announced event of ``event_type`` (idempotent)."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


async def announce(session: AsyncSession, event: object) -> None:
    for handler in _handlers.get(type(event), ()):
        await handler(session, event)
