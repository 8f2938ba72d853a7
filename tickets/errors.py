"""Errors of tickets: the festival error families, named for what failed."""

from __future__ import annotations

from festival.errors import Conflict, Forbidden, Gone, Invalid, NotFound


class RegistrationClosed(Conflict):
    code = "registration_closed"
    title = "Registration is closed"


class AlreadyRegistered(Conflict):
    code = "already_registered"
    title = "Already registered"


class RegistrationNotFound(NotFound):
    code = "registration_not_found"


class NotConfirmed(Conflict):
    code = "not_confirmed"
    title = "The registration is not confirmed"


class NoSeats(Invalid):
    code = "no_seats"
    title = "The session has no seats to reserve"


class SeatsClosed(Conflict):
    code = "seats_closed"
    title = "Seat reservation is closed"


class SeatClash(Conflict):
    code = "seat_clash"
    title = "Overlaps another reserved session"


class CheckinNotLive(Conflict):
    code = "checkin_not_live"
    title = "The check-in is not live"


class DeviceNotRegistered(Forbidden):
    """An offline sync named a scanner this token did not register (or one revoked)."""

    code = "device_not_registered"
    title = "Not a registered scanner of this token"


class LinkExpired(Gone):
    """An e-mailed one-time link that was used, has expired, or never existed."""

    code = "link_expired"
    title = "This link was used or has expired"
