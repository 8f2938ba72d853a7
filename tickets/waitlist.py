"""The festival's waiting list: a place that comes free goes to the first in line."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from festival.db import utcnow
from festival.models import Festival
from tickets import issuing, letters, queries
from tickets.models import Registration


async def promote(
    session: AsyncSession, festival: Festival, participation: str
) -> Registration | None:
    """Give a free place of a line (``participation``) to the first in that line.

    The candidate is taken by a conditional update first, so two racing
    cancellations never promote one person twice: the loser moves on to the
    next. With no place to give (capacity lowered meanwhile) the candidate
    waits on. Places are neither lost nor doubled.
    """
    while True:
        candidate = await session.scalar(queries.first_waitlisted(festival.id, participation))
        if candidate is None or not await queries.has_free_place(
            session, festival.id, participation
        ):
            return None
        if not await queries.change_status(
            session, Registration, candidate.id, "waitlisted", "confirmed", confirmed_at=utcnow()
        ):
            continue  # promoted by someone else a moment ago
        if not await queries.claim_place(session, festival.id, candidate.id, participation):
            await queries.change_status(
                session, Registration, candidate.id, "confirmed", "waitlisted", confirmed_at=None
            )
            return None
        await session.refresh(candidate)
        ticket = await issuing.issue_ticket(session, candidate)
        qr = await issuing.payload(session, ticket)
        await letters.tell(session, festival, candidate, "promoted", qr)
        return candidate


async def promote_all(session: AsyncSession, festival: Festival) -> None:
    """Promote while places are free and people wait, in each line."""
    for participation in ("onsite", "online"):
        while await promote(session, festival, participation) is not None:
            pass
