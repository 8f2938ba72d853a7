"""When registration and workshop seats are open.

Registration (and with it the waiting list, which is joined by registering)
opens at the organiser's ``registration_opens_at``, or at publication without
one. It closes at the organiser's ``registration_closes_at``; without one it
closes when the festival ends, at midnight after its last day in its own time
zone (the bound :func:`schedule.timing.festival_bounds` gives the programme).
An explicit close wins either way: earlier, or later than the end (a festival
that sells access to its recordings, say).

A workshop seat (or a place on its waiting list) can be taken until the session
ends, and never once the festival has ended: no registration window reopens a
session that is over.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol

from schedule.models import Session
from schedule.timing import local_midnight, zone_of
from tickets.errors import RegistrationClosed, SeatsClosed


class Dated(Protocol):
    """A festival's last day and its zone, as a ``Festival`` or a registration desk has them."""

    @property
    def timezone(self) -> str: ...

    @property
    def ends_on(self) -> date: ...


class Opening(Dated, Protocol):
    """What decides whether a festival takes registrations."""

    @property
    def name(self) -> str: ...

    @property
    def published_at(self) -> datetime | None: ...

    @property
    def registration_opens_at(self) -> datetime | None: ...

    @property
    def registration_closes_at(self) -> datetime | None: ...


def festival_ends_at(festival: Dated) -> datetime:
    """The instant the festival ends (UTC): midnight after its last day, in its zone."""
    return local_midnight(festival.ends_on + timedelta(days=1), zone_of(festival.timezone))


def registration_closes_at(festival: Opening) -> datetime:
    """The organiser's close if they set one, else the festival's end."""
    if festival.registration_closes_at is not None:
        return festival.registration_closes_at
    return festival_ends_at(festival)


def ensure_registration_open(festival: Opening, now: datetime) -> None:
    """``RegistrationClosed`` unless ``festival`` takes registrations at ``now``.

    The problem says when registration opens (``opens_at``) or when it closed
    (``closed_at``), in the festival's time zone.
    """
    if festival.published_at is None:
        raise RegistrationClosed(f"{festival.name} is not published yet")
    zone = zone_of(festival.timezone)
    opens = festival.registration_opens_at
    if opens is not None and now < opens:
        at = opens.astimezone(zone).isoformat()
        raise RegistrationClosed(f"Registration opens at {at}", opens_at=at)
    closes = registration_closes_at(festival)
    if now < closes:
        return
    at = closes.astimezone(zone).isoformat()
    if festival.registration_closes_at is not None:
        raise RegistrationClosed(f"Registration closed at {at}", closed_at=at)
    raise RegistrationClosed(
        f"Registration closed at {at}, when {festival.name} ended "
        f"(its last day was {festival.ends_on.isoformat()}, {festival.timezone})",
        closed_at=at,
    )


def ensure_seats_open(festival: Dated, programme: Session, now: datetime) -> None:
    """``SeatsClosed`` once the session has ended, or the festival has."""
    zone = zone_of(festival.timezone)
    ended = festival_ends_at(festival)
    if now >= ended:
        at = ended.astimezone(zone).isoformat()
        raise SeatsClosed(
            f"Seats can no longer be reserved: the festival ended at {at}",
            field="session_id",
            closed_at=at,
        )
    if now >= programme.ends_at:
        at = programme.ends_at.astimezone(zone).isoformat()
        raise SeatsClosed(
            f"{programme.title!r} ended at {at}: its seats can no longer be reserved",
            field="session_id",
            closed_at=at,
        )
