"""Who is acting in a live session, and where their changes are announced.

Services take a :class:`LiveContext` built once per socket (or per REST call) by
:func:`realtime.access.enter`. They write in the caller's unit of work and hand
events to the :class:`Outbox` only after the commit (``festival.effects``), so
nobody hears of a change that did not happen.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from festival import effects
from festival.auth import Principal
from festival.errors import Forbidden
from realtime.errors import LiveUnavailable
from realtime.protocol import Event


class Outbox(Protocol):
    @property
    def available(self) -> bool: ...
    async def publish(self, session_id: uuid.UUID, event: Event) -> None: ...
    def offer_votes(
        self, session_id: uuid.UUID, question_id: uuid.UUID, version: int, n: int
    ) -> None: ...
    def offer_results(
        self, session_id: uuid.UUID, poll_id: uuid.UUID, version: int, e: Event
    ) -> None: ...


@dataclass(frozen=True)
class LiveContext:
    session_id: uuid.UUID
    festival_id: uuid.UUID
    role: str
    principal: Principal
    out: Outbox

    @property
    def voter_id(self) -> uuid.UUID:
        """An attendee's registration id (the token's subject), else the token itself."""
        return self.principal.subject_id or self.principal.token_id

    @property
    def is_moderator(self) -> bool:
        return self.role == "moderator"


def not_an_attendee(ctx: LiveContext) -> Forbidden | None:
    """The refusal of anyone but an attendee who asks or votes; None for an attendee."""
    return None if ctx.role == "attendee" else Forbidden("Only attendees ask and vote")


def fan_out_refusal(ctx: LiveContext) -> LiveUnavailable | None:
    """The refusal of a change while the broker is away, else None: the change would
    be saved and acked but reach only this node's sockets, or none."""
    if ctx.out.available:
        return None
    return LiveUnavailable(
        "Live updates are interrupted for a moment (the message broker is away); "
        "nothing was saved, try again shortly"
    )


def require_fan_out(ctx: LiveContext) -> None:
    """Refuse a change while the broker is away (``LiveUnavailable``), before its
    unit of work commits: every announced change and every vote calls it."""
    if (refused := fan_out_refusal(ctx)) is not None:
        raise refused


def announce(session: AsyncSession, ctx: LiveContext, event: Event) -> None:
    """Publish ``event`` on the context's channel once this unit of work commits
    (refused with ``LiveUnavailable`` while the broker is away)."""
    require_fan_out(ctx)

    async def _publish() -> None:
        await ctx.out.publish(ctx.session_id, event)

    effects.defer(session, _publish)
