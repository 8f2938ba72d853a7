"""On site or online: which line a registration stands in, and switching lines.

An on-site festival's registrations are on site and an online festival's
online; a hybrid festival asks (on site unless the registration says online,
as before there was a choice). Each line has its own places (the hall's
``capacity``, the stream's ``online_capacity``), waiting list and promotion.

Switching (:func:`switch`) is fair to both lines: it happens only when the
other line has a free place and nobody waits in it, so it never overtakes
anyone; the place left behind goes to the first in the old line at once. A
waitlisted registration moves to the other line's waiting list keeping its
original number, so it stands where it would have stood had it chosen that
line when it registered. The place is claimed like any other (one conditional
update), so switches and registrations racing for the last place never exceed
either capacity.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.errors import Conflict, Invalid
from tickets import attendees, queries, waitlist
from tickets.models import Registration
from tickets.schemas import MeRead, MeUpdate

ONSITE, ONLINE = "onsite", "online"


def line_for(mode: str, asked: str | None) -> str:
    """The line a registration to a festival of ``mode`` stands in; ``Invalid``
    when it asks for one the festival does not have."""
    decided = {"onsite": ONSITE, "online": ONLINE}.get(mode)
    if decided is None:  # hybrid
        return asked or ONSITE
    if asked is not None and asked != decided:
        raise Invalid(
            f"This festival is {mode} only: participation is {decided!r}", field="participation"
        )
    return decided


class SwitchFull(Conflict):
    code = "participation_full"
    title = "No free place in that participation"


async def switch(session: AsyncSession, principal: Principal, to: str) -> MeRead:
    """Move the attendee's registration to the ``to`` line (see the module)."""
    me = await attendees.attendee(session, principal)
    registration, festival = me.registration, me.festival
    line_for(festival.mode, to)  # refuses a line the festival does not have
    if registration.participation == to:
        return await attendees.me(session, principal)
    if registration.status == "waitlisted":
        await _move(session, registration, to)
        return await attendees.me(session, principal)
    if registration.status != "confirmed":
        raise Conflict(f"A {registration.status} registration cannot switch")
    if await session.scalar(queries.first_waitlisted(festival.id, to)) is not None:
        raise SwitchFull(f"People are waiting for a {to} place: switching would overtake them")
    old = registration.participation
    await queries.release_place(session, registration.id)
    if not await queries.claim_place(session, festival.id, registration.id, to):
        raise SwitchFull(f"No {to} place is free")
    await _move(session, registration, to)
    await waitlist.promote(session, festival, old)
    # The door reads the line with the ticket; offline scanners fetch a new bundle.
    await queries.bump_bundle_version(session, festival.id)
    return await attendees.me(session, principal)


async def _move(session: AsyncSession, registration: Registration, to: str) -> None:
    registration.participation = to
    await session.flush()


async def update_me(session: AsyncSession, principal: Principal, data: MeUpdate) -> MeRead:
    """``PATCH /me``: the attendee's settings (:func:`tickets.attendees.update_me`),
    then a switch of line if asked."""
    changed = await attendees.update_me(session, principal, data)
    if data.participation is None:
        return changed
    return await switch(session, principal, data.participation)
