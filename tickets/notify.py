"""Tell attendees when a session they reserved or favourited changes.

Subscribed to ``schedule.events.SessionChanged``: the handler runs inside the
transaction that changed the programme, so its outbox rows commit or roll back
with the change itself.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from festival import events
from festival.models import Festival
from schedule.events import SessionChanged
from tickets import outbox, speakers
from tickets.models import Favourite, Registration, SeatReservation

_WHAT = {
    "moved": "has moved",
    "retitled": "has a new title",
    "cancelled": "is cancelled",
    "speakers": "has new speakers",
}


def _describe(event: SessionChanged) -> str:
    lines = [f"The session {event.title!r} {_WHAT.get(event.kind, 'has changed')}."]
    for name, value in (event.after or {}).items():
        before = (event.before or {}).get(name)
        lines.append(
            f"- {name}: {before} -> {value}" if before is not None else f"- {name}: {value}"
        )
    return "\n".join(lines)


async def on_session_changed(session: AsyncSession, event: SessionChanged) -> None:
    """One outbox message per attendee holding a seat in, or favouriting, the session."""
    if event.kind == "added":
        return
    seated = select(SeatReservation.registration_id).where(
        SeatReservation.session_id == event.session_id, SeatReservation.status != "released"
    )
    liked = select(Favourite.registration_id).where(Favourite.session_id == event.session_id)
    people = (
        await session.execute(
            select(Registration.id, Registration.name, Registration.email).where(
                Registration.festival_id == event.festival_id,
                Registration.status != "cancelled",
                or_(Registration.id.in_(seated), Registration.id.in_(liked)),
            )
        )
    ).all()
    if not people:
        return
    festival_name = await session.scalar(
        select(Festival.name).where(Festival.id == event.festival_id)
    )
    text = _describe(event)
    letters = [
        outbox.message(
            festival_id=event.festival_id,
            registration_id=registration_id,
            kind=f"session.{event.kind}",
            to=email,
            subject=f"{festival_name}: {event.title!r} {_WHAT.get(event.kind, 'has changed')}",
            body=f"Hello {name},\n\n{text}\n",
        )
        for registration_id, name, email in people
    ]
    await outbox.post(session, *letters)


def install() -> None:
    """Subscribe the handlers (idempotent)."""
    events.subscribe(SessionChanged, on_session_changed)
    events.subscribe(SessionChanged, speakers.on_session_changed)
