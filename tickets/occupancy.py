"""How full each on-site session with seats is, for everyone to see: seats
reserved, people checked in at its door, and people waiting. Counts only, of a
festival the reader may see; an online-only festival has none."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.service import get_festival
from schedule.models import Room, Session
from tickets.models import Checkin, SeatReservation, SessionSeats
from tickets.schemas import SessionOccupancy


async def of_festival(
    session: AsyncSession, principal: Principal | None, slug: str
) -> list[SessionOccupancy]:
    festival = await get_festival(session, principal, slug)
    if festival.mode == "online":
        return []
    seated = (
        await session.execute(
            select(Session.id, Session.capacity, func.coalesce(SessionSeats.taken, 0))
            .outerjoin(SessionSeats, SessionSeats.session_id == Session.id)
            .outerjoin(Room, Room.id == Session.room_id)
            .where(
                Session.festival_id == festival.id,
                Session.capacity.is_not(None),
                Session.status == "scheduled",
                (Room.kind.is_(None)) | (Room.kind != "virtual"),
            )
            .order_by(Session.starts_at)
        )
    ).all()
    if not seated:
        return []
    ids = [row[0] for row in seated]
    inside = dict(
        (
            await session.execute(
                select(Checkin.list_key, func.count())
                .where(
                    Checkin.festival_id == festival.id,
                    Checkin.live.is_(True),
                    Checkin.list_key.in_([str(i) for i in ids]),
                )
                .group_by(Checkin.list_key)
            )
        ).all()
    )
    waiting = dict(
        (
            await session.execute(
                select(SeatReservation.session_id, func.count())
                .where(SeatReservation.session_id.in_(ids), SeatReservation.status == "waitlisted")
                .group_by(SeatReservation.session_id)
            )
        ).all()
    )
    return [
        SessionOccupancy(
            session_id=session_id,
            capacity=capacity,
            reserved=reserved,
            checked_in=inside.get(str(session_id), 0),
            waiting=waiting.get(session_id, 0),
        )
        for session_id, capacity, reserved in seated
    ]
