"""What the door and the registration desk answer over HTTP, for both front doors.

The domain answers in its own terms: a scan with a :data:`tickets.checkin.ScanOutcome`,
an offline item that is no scan with a :class:`tickets.offline.NotAScan`, a
registration with a :class:`tickets.schemas.RegistrationIssued`, and a refusal
of the request itself with a ``FestivalError`` (rendered by :mod:`api.http.problems`).
This module is the one place where those outcomes get a status and a JSON body,
and :func:`register` the one place where a registration meets its abuse limit.

The routes (:mod:`api.routers.checkin`, :mod:`api.routers.registration`) and the
fast lanes (:mod:`api.http.fastlane`) call :func:`scan` and :func:`register`,
which also choose the unit of work's transaction mode, so a request gets the
same reply whichever door served it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.http.idempotency import Idempotency
from api.http.problems import PROBLEM, problem_body
from festival.db import at_once_else_in_transaction, autocommit
from festival.limits import LETTERS_TO_ADDRESS, REGISTER_ADDRESS, Limiter, address_key, email_key
from tickets import checkin, registration
from tickets.checkin import Admitted, AlreadyIn, DoorLine, Refused
from tickets.confirmation import MayWrite, Pending
from tickets.offline import NotAScan, SyncResult
from tickets.schemas import (
    CheckinCreate,
    RegistrationCreate,
    RegistrationIssued,
    RegistrationPending,
)

JSON = "application/json"

_REFUSED = {
    "invalid": "Not a valid ticket",
    "revoked": "The ticket was revoked",
    "wrong_list": "The ticket is not on this check-in list",
    "wrong_festival": "The ticket is for another festival",
}


class DoorNote(BaseModel):
    question: str
    answer: str


class AttendeeName(BaseModel):
    name: str
    notes: list[DoorNote] | None = Field(
        default=None, description="Answers the organiser marked for the door (an access need)"
    )


class CheckinOk(BaseModel):
    """``201``: admitted. ``id`` is what a revert names."""

    id: uuid.UUID
    result: Literal["ok"]
    attendee: AttendeeName
    list: str
    gate: str | None
    checked_in_at: datetime


class CheckinRefused(BaseModel):
    """``409`` (already checked in: when and at which gate) or ``422`` (refused),
    as problem JSON with the scan's ``result``."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    id: uuid.UUID
    result: Literal["already_checked_in", "invalid", "revoked", "wrong_list", "wrong_festival"]
    list: str
    checked_in_at: datetime | None = None
    gate: str | None = None
    attendee: AttendeeName | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """A status and a JSON body; problem JSON for an error status."""

    status: int
    body: dict[str, Any]

    @property
    def media_type(self) -> str:
        return PROBLEM if self.status >= 400 else JSON

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, media_type=self.media_type)


def scan_reply(outcome: SyncResult) -> Reply:
    """A scan's outcome as API.md shows it: ``201`` admitted, ``409`` already checked
    in, ``422`` refused (problem JSON carrying the scan's ``result``)."""
    if isinstance(outcome, Admitted):
        return Reply(201, checkin.record(outcome))  # the body kept with the row, as sent
    if isinstance(outcome, AlreadyIn):
        code = "already_checked_in"
        body = problem_body(
            409,
            code,
            "Already checked in",
            outcome.detail,
            id=str(outcome.id),
            result=code,
            list=outcome.list_key,
            checked_in_at=outcome.when.isoformat(),
            gate=outcome.gate,
            attendee={"name": outcome.name},
            first_checkin_id=str(outcome.first),
        )
        return Reply(409, body)
    if isinstance(outcome, Refused):
        reason = outcome.reason
        body = problem_body(
            422,
            reason,
            _REFUSED[reason],
            outcome.detail,
            id=str(outcome.id),
            result=reason,
            list=outcome.list_key,
        )
        return Reply(422, body)
    assert isinstance(outcome, NotAScan)
    return Reply(
        422, problem_body(422, "invalid", "Not a valid scan", outcome.detail, result="invalid")
    )


def sync_results(results: list[SyncResult]) -> list[dict[str, Any]]:
    """An offline batch's results, each shaped as :func:`scan_reply` shapes a scan."""
    return [scan_reply(result).body for result in results]


def registration_reply(issued: RegistrationIssued | Pending) -> Reply:
    """``201`` with the secrets, or ``202`` "check your e-mail" (``confirm_email``)."""
    if isinstance(issued, Pending):
        return Reply(202, RegistrationPending(detail=issued.detail).model_dump(mode="json"))
    return Reply(201, issued.model_dump(mode="json"))


async def scan(session: AsyncSession, token: str | None, slug: str, data: CheckinCreate) -> Reply:
    """A door scan in ``session``'s unit of work. Each of its statements commits as
    it runs where that applies (see ``festival.db.autocommit``): a scan is a read
    and one insert that the live check-in index arbitrates."""
    await autocommit(session)
    outcome = await checkin.check_in(session, token, slug, data.qr, data.list, data.gate)
    return scan_reply(outcome)


async def scan_at_once(
    door: DoorLine, token: str | None, slug: str, data: CheckinCreate
) -> Reply | None:
    """The common scan with no session, in the door's line of batches
    (``tickets.checkin.DoorLine``); None when :func:`scan` must decide it."""
    admitted = await door.admit(token, slug, data.qr, data.list, data.gate)
    return None if admitted is None else scan_reply(admitted)


async def register(
    session: AsyncSession,
    slug: str,
    data: RegistrationCreate,
    *,
    limiter: Limiter,
    address: str,
    base_url: str,
) -> Reply:
    """A registration in ``session``'s unit of work: the one-statement common case
    in autocommit where that applies, else (or when it cannot place the
    registration at once) the whole use case in a transaction.

    First, whatever the outcome (a ``409`` for an address already registered
    included, so probing who registered costs the same), it counts against
    ``REGISTER_ADDRESS`` for the client's ``address`` and this festival:
    :class:`festival.errors.TooManyRequests` beyond it, before anything is read.
    """
    await limiter.take(
        "Too many registrations from this address",
        (REGISTER_ADDRESS, f"{slug}|{address_key(address)}"),
    )
    may_write = letters_allowed(limiter, slug)
    issued = await at_once_else_in_transaction(
        session,
        lambda: registration.register_at_once(session, slug, data),
        lambda: registration.register(session, slug, data, base_url=base_url, may_write=may_write),
    )
    return registration_reply(issued)


def letters_allowed(limiter: Limiter, slug: str) -> MayWrite:
    """Whether one more letter may go to an address about festival ``slug``
    (``LETTERS_TO_ADDRESS``): forms that mail an address ask it first."""

    async def may_write(email: str) -> bool:
        (count,) = await limiter.hit((LETTERS_TO_ADDRESS, f"{slug}|{email_key(email)}"))
        return not count.over

    return may_write


async def remembered(idempotency: Idempotency, reply: Reply) -> JSONResponse:
    """``reply`` from a route, kept under its ``Idempotency-Key`` if it has one."""
    response = await idempotency.respond(reply.status, reply.body)
    response.headers["content-type"] = reply.media_type
    return response
