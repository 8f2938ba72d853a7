"""The letters about a registration, written to the outbox (:mod:`tickets.outbox`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from festival.models import Festival
from tickets import outbox
from tickets.models import Registration

_MESSAGES = {
    "confirmed": (
        "Your place at {festival}",
        "Your registration is confirmed. If you cannot come after all, cancel it from your "
        "ticket page, so that someone on the waiting list gets your place.",
    ),
    "waitlisted": (
        "Waiting list for {festival}",
        "The festival is full: you are on the waiting list. There is nothing to do: when a "
        "place comes free it goes to the first in line, and we e-mail you your ticket at "
        "once. To leave the list, cancel from your ticket page.",
    ),
    "promoted": (
        "A place for you at {festival}",
        "A place came free: your registration is confirmed, and your ticket is below. If you "
        "cannot come after all, cancel from your ticket page, so that the next person in "
        "line gets the place.",
    ),
    "cancelled": (
        "Registration cancelled: {festival}",
        "Your registration is cancelled, and your ticket no longer works. If that was a "
        "mistake, register again while registration is open.",
    ),
    "confirm": (
        "Confirm your registration for {festival}",
        "Someone, we hope you, asked to register this address. To confirm, open this "
        "link{until}:\n\n{link}\n\n{place}\n\nIf it was not you, ignore this e-mail: an "
        "unconfirmed registration is deleted when the link expires.",
    ),
    "sign_in": (
        "Your sign-in link for {festival}",
        "Here is your link to sign in on this device. It works once, within 30 minutes:"
        "\n\n{link}\n\nIf you did not ask for it, ignore this e-mail; nobody can use it "
        "without access to your mailbox.",
    ),
    "known": (
        "You are registered for {festival}",
        "Someone, perhaps you, asked to register this address again. You are already "
        "{standing}: nothing has changed. Your ticket and links are in the first e-mail "
        "we sent you.",
    ),
}


KINDS = tuple(_MESSAGES)


def letter(
    festival_name: str,
    person_name: str,
    to: str,
    kind: str,
    qr: str | None,
    festival_id: uuid.UUID,
    registration_id: uuid.UUID | None,
    **fill: str,
) -> dict[str, Any]:
    """A message about a registration (an outbox row); ``fill`` completes its text."""
    subject, text = _MESSAGES[kind]
    body = f"Hello {person_name},\n\n{text.format(**fill)}\n"
    if qr is not None:
        body += f"\nYour ticket (show it as a QR code at the door):\n{qr}\n"
    return outbox.message(
        festival_id=festival_id,
        registration_id=registration_id,
        kind=f"registration.{kind}",
        to=to,
        subject=subject.format(festival=festival_name),
        body=body,
    )


async def tell(
    session: AsyncSession, festival: Festival, registration: Registration, kind: str, qr: str | None
) -> None:
    """Write ``kind``'s letter to ``registration``'s address."""
    row = letter(
        festival.name, registration.name, registration.email, kind, qr, festival.id, registration.id
    )
    await outbox.post(session, row)


# Letters about a workshop seat, by kind (an outbox row's kind is ``seat.<kind>``).
_SEAT_MESSAGES = {
    # To the first in line, when a no-show's seat becomes theirs (tickets.no_shows).
    "come_now": (
        "Your seat is confirmed: {title}, come now",
        "A seat in {title!r}{room} came free: it is yours, confirmed. The session began "
        "at {starts}; come now and show your ticket at the door.",
    ),
    # To a holder who was not scanned in by the session's grace time.
    "no_show": (
        "Your seat in {title} went to someone waiting",
        "You held a seat in {title!r}{room}, which began at {starts}. You were not scanned "
        "in at its door by {deadline}, {minutes} minutes after the start, so the seat went "
        "to someone on its waiting list. Your registration for the festival stands.",
    ),
}


def seat_letter(
    kind: str,
    *,
    festival_id: uuid.UUID,
    registration_id: uuid.UUID,
    person_name: str,
    to: str,
    **fill: str,
) -> dict[str, Any]:
    """A message about a workshop seat (an outbox row); ``fill`` completes its text
    (``title``, ``room``, ``starts``, and for a no-show ``deadline`` and ``minutes``)."""
    subject, text = _SEAT_MESSAGES[kind]
    return outbox.message(
        festival_id=festival_id,
        registration_id=registration_id,
        kind=f"seat.{kind}",
        to=to,
        subject=subject.format(**fill)[:300],
        body=f"Hello {person_name},\n\n{text.format(**fill)}\n",
    )
