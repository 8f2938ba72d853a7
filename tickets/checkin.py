"""Check-in: verify a scanned payload, record the scan, say what it means for the door.

Every scan is written, denied ones included. A granted check-in is a row with
``live`` set; the partial unique index over live rows lets one exist per
ticket and list, so fifty scanners scanning one ticket at the same instant get
one :class:`Admitted` and forty-nine :class:`AlreadyIn` naming the first gate.

A scan answers in the door's terms (:data:`ScanOutcome`); how a client hears
each outcome (status, problem JSON) is decided in one place, in ``api``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Literal, TypeAlias, cast

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from festival.auth import TOKEN_COLUMNS, Principal, bearer_principal, hash_token
from festival.db import autocommit_connection, utcnow
from festival.errors import Conflict, Forbidden, NotFound, Unauthorized
from festival.gathered import Gathered
from festival.models import Festival
from festival.queries import sees_festival
from festival.service import get_festival
from schedule.models import Session
from tickets import issuing, queries, signing
from tickets.errors import CheckinNotLive
from tickets.models import (
    FESTIVAL_LIST,
    Checkin,
    RegistrationAnswer,
    RegistrationQuestion,
    SeatReservation,
)

Reason = Literal["invalid", "revoked", "wrong_list", "wrong_festival"]


@dataclass(frozen=True)
class Admitted:
    """The ticket is checked in at ``list_key`` from now on; ``id`` is what a revert names."""

    id: uuid.UUID
    name: str
    list_key: str
    gate: str | None
    at: datetime
    # Answers the door screen shows with the name: (question, answer).
    notes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AlreadyIn:
    """The ticket was checked in at ``list_key`` before: ``when``, at ``gate``, by the
    check-in ``first``. ``id`` names the record of this (denied) scan."""

    id: uuid.UUID
    name: str
    list_key: str
    when: datetime
    gate: str | None
    first: uuid.UUID

    @property
    def detail(self) -> str:
        where = f" at gate {self.gate}" if self.gate else ""
        return f"Checked in at {self.when.isoformat()}{where}"


@dataclass(frozen=True)
class Refused:
    """Not admitted, for ``reason``; ``detail`` says why in words. ``id`` names the record."""

    id: uuid.UUID
    reason: Reason
    list_key: str
    detail: str


ScanOutcome: TypeAlias = Admitted | AlreadyIn | Refused


def record(outcome: ScanOutcome) -> dict[str, Any]:
    """What a scan answered, as kept with its row (``Checkin.reply``), so that an
    offline scan sent again is answered as it was the first time (:func:`recorded`)."""
    if isinstance(outcome, Admitted):
        attendee: dict[str, Any] = {"name": outcome.name}
        if outcome.notes:
            attendee["notes"] = [{"question": q, "answer": a} for q, a in outcome.notes]
        return {
            "id": str(outcome.id),
            "result": "ok",
            "attendee": attendee,
            "list": outcome.list_key,
            "gate": outcome.gate,
            "checked_in_at": outcome.at.isoformat(),
        }
    kept: dict[str, Any] = {"id": str(outcome.id), "list": outcome.list_key}
    if isinstance(outcome, Refused):
        return kept | {"result": outcome.reason, "detail": outcome.detail}
    return kept | {
        "result": "already_checked_in",
        "checked_in_at": outcome.when.isoformat(),
        "gate": outcome.gate,
        "attendee": {"name": outcome.name},
        "first_checkin_id": str(outcome.first),
    }


def recorded(kept: Mapping[str, Any]) -> ScanOutcome:
    """The outcome :func:`record` kept. Rows written before outcomes were typed kept
    the whole reply (problem fields too); those fields are not read."""
    checkin_id, list_key = uuid.UUID(kept["id"]), kept["list"]
    result = kept["result"]
    if result == "ok":
        at = datetime.fromisoformat(kept["checked_in_at"])
        notes = tuple((n["question"], n["answer"]) for n in kept["attendee"].get("notes", ()))
        return Admitted(checkin_id, kept["attendee"]["name"], list_key, kept["gate"], at, notes)
    if result == "already_checked_in":
        return AlreadyIn(
            checkin_id,
            kept["attendee"]["name"],
            list_key,
            datetime.fromisoformat(kept["checked_in_at"]),
            kept["gate"],
            uuid.UUID(kept["first_checkin_id"]),
        )
    return Refused(checkin_id, cast(Reason, result), list_key, kept["detail"])


@dataclass(frozen=True)
class ScannedTicket:
    """A ticket and its registration, as the door sees them."""

    id: uuid.UUID
    version: int
    revoked_at: datetime | None
    registration_id: uuid.UUID
    name: str
    status: str
    participation: str = "onsite"
    festival_mode: str = "onsite"

    @property
    def stream_only(self) -> bool:
        """An online participant of a festival with a hall: no admission on site.
        (An online-only festival has one line, and its door, if it runs one, as before.)"""
        return self.participation == "online" and self.festival_mode == "hybrid"


@dataclass
class Scan:
    qr: str
    list_key: str
    gate: str | None
    scanned_at: datetime
    device_id: str | None = None
    scan_key: str | None = None
    staff_token_id: uuid.UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def ensure_checkin_staff(principal: Principal) -> Principal:
    """``principal`` if it is a check-in staff token (of some festival), else ``Forbidden``.

    The one check of the role, for the scan and for the routes that need the role
    (``api.http.deps.CheckinStaffDep``); which festival is :func:`door_festival`'s.
    """
    if not (principal.kind == "staff" and principal.role == "checkin"):
        raise Forbidden("Only check-in staff may do this")
    return principal


async def door_festival(session: AsyncSession, principal: Principal, slug: str) -> Festival:
    """The festival a check-in token works for; another festival is ``NotFound``."""
    festival = await get_festival(session, principal, slug)
    _may_scan_at(principal, festival.id)
    return festival


def _may_scan_at(principal: Principal, festival_id: uuid.UUID) -> None:
    if not principal.may_check_in(festival_id):
        raise Forbidden("Only check-in staff of this festival may scan tickets")


_FESTIVAL = len(TOKEN_COLUMNS)  # where the festival's columns begin in a DOOR row
_TICKET = _FESTIVAL + 4  # and the ticket's
_END = _TICKET + len(fields(ScannedTicket))  # (DOOR_ADMISSIONS adds a column after them)
_FORGED = "The signature is not valid"


@dataclass(frozen=True)
class Door:
    """Who scans at which festival, and the scanned ticket, as one read found them."""

    principal: Principal
    festival_id: uuid.UUID
    questions: bool  # whether the festival shows answers at the door
    ticket: ScannedTicket | None


def _payload(qr: str) -> signing.Payload | signing.BadPayload:
    try:
        return signing.parse(qr)
    except signing.BadPayload as exc:
        return exc


async def _door(
    connection: AsyncConnection,
    token: str | None,
    slug: str,
    payload: signing.Payload | signing.BadPayload,
) -> Door:
    """The scanner's token, the festival and the ticket in one read (``queries.DOOR``);
    ``Unauthorized``, ``Forbidden`` or ``NotFound`` for a caller who may not scan there."""
    ticket_id = payload.ticket_id if isinstance(payload, signing.Payload) else None
    params = _door_params(token, slug, ticket_id)
    return _door_of(await queries.DOOR_ROW.first(connection, params), slug)


def _door_params(token: str | None, slug: str, ticket_id: uuid.UUID | None) -> dict[str, Any]:
    if not token:
        raise Unauthorized("A bearer token is required")
    return {"token_hash": hash_token(token), "slug": slug, "ticket_id": ticket_id}


def _door_of(row: Sequence[Any] | None, slug: str) -> Door:
    """The :class:`Door` of a ``DOOR`` row, for a caller who may scan there."""
    principal = ensure_checkin_staff(bearer_principal(row))
    assert row is not None  # a principal came of it
    festival_id, published_at, owner_id, door_questions = row[_FESTIVAL:_TICKET]
    if festival_id is None or not sees_festival(principal, festival_id, published_at, owner_id):
        raise NotFound(f"No festival {slug!r}")
    _may_scan_at(principal, festival_id)
    ticket = ScannedTicket(*row[_TICKET:_END]) if row[_TICKET] is not None else None
    return Door(principal, festival_id, bool(door_questions), ticket)


async def check_in(
    session: AsyncSession, token: str | None, slug: str, qr: str, list_key: str, gate: str | None
) -> ScanOutcome:
    """Check a scanned payload in at ``list_key`` (the festival or a session's door).

    The hot path of the door: the scanner's token, the festival and the ticket
    come in one read (``queries.DOOR``), the check-in goes in one write. Each
    statement is atomic by itself (the partial unique index decides a race), so
    the edge may run the scan in autocommit (``festival.db.autocommit``); it
    runs as well in a transaction the edge began. The common scan can also be
    admitted with no session at all (:class:`DoorLine`).
    """
    payload = _payload(qr)
    door = await _door(await session.connection(), token, slug, payload)
    scan = Scan(qr, list_key, gate, utcnow(), staff_token_id=door.principal.token_id)
    return await scan_ticket(session, door.festival_id, scan, payload, door.ticket, door.questions)


class DoorLine:
    """The door's common scans in this process, admitted by the batch: a valid ticket
    at the entrance of a festival that shows nothing at the door, with no session.

    One statement (``queries.DOOR_ADMISSIONS``) reads, for each scan of a batch,
    what :func:`check_in` reads and, when that is the common scan, writes the
    row it would write. Scans that arrive while a batch is in the database go
    out together as the next one (:class:`festival.gathered.Gathered`): at a
    rush one commit serves many scans, and a lone scan goes out at once. One
    batch in flight per process by default: more made smaller batches, more
    commits and a slower door (bench/RESULTS.md). PostgreSQL only: it runs on
    the pool's driver connections in autocommit.
    """

    def __init__(self, engine: AsyncEngine, *, size: int = 64, in_flight: int = 1) -> None:
        self._engine = engine
        self._gathered: Gathered[dict[str, Any], Sequence[Any] | None] = Gathered(
            self._admit, size=size, in_flight=in_flight
        )

    async def admit(
        self, token: str | None, slug: str, qr: str, list_key: str, gate: str | None
    ) -> Admitted | None:
        """The scan admitted, if it is the common one; else None, with nothing written:
        :func:`check_in` then decides it in a unit of work (one to refuse and
        record, a check-in already live, a session's door, answers to show, a
        festival key this process does not hold yet). A caller who may not scan
        there is refused as :func:`check_in` refuses them. The signature is
        checked first, with the key of the festival the payload names, which
        the statement then requires to be the door's.
        """
        payload = _payload(qr)
        if list_key != FESTIVAL_LIST or not isinstance(payload, signing.Payload):
            return None  # not read twice: check_in reads, and refuses or records, once
        params = _door_params(token, slug, payload.ticket_id)
        public = issuing.known_public_key(payload.festival_id)
        if public is None or not signing.verify(public, payload):
            return None  # check_in reads the key, or records the forgery
        admitted = Admitted(uuid.uuid4(), "", list_key, gate, utcnow())
        row = await self._gathered(params | _admission(payload, admitted, qr))
        if row is None:
            return None  # its batch was not decided here
        if row[_END] is not None:  # the statement found the common scan
            return replace(admitted, name=ScannedTicket(*row[_TICKET:_END]).name)
        _door_of(row, slug)  # a caller who may not scan is refused here, as check_in refuses
        return None

    async def _admit(self, scans: Sequence[dict[str, Any]]) -> Sequence[Sequence[Any] | None]:
        """One row per scan, or None for each when a row of the batch broke a
        constraint (a ticket erased meanwhile, say): the statement then wrote
        nothing, and :func:`check_in` decides each scan of it alone."""
        columns = {name: [scan[name] for scan in scans] for name in queries.ADMISSION_FIELDS}
        async with autocommit_connection(self._engine) as connection:
            assert connection is not None, "the door line runs on PostgreSQL only"
            try:
                rows: Sequence[Sequence[Any]] = await queries.DOOR_ADMISSIONS.all(
                    connection, columns | {"now": utcnow()}
                )
            except IntegrityError:
                return [None] * len(scans)
        return rows


def _admission(payload: signing.Payload, admitted: Admitted, qr: str) -> dict[str, Any]:
    """What ``queries.DOOR_ADMISSIONS`` needs of one scan beyond the door's read: the
    payload it admits and the row it writes (``_row``'s, for the common scan)."""
    return {
        "festival_id": payload.festival_id,
        "version": payload.version,
        "id": admitted.id,
        "gate": admitted.gate,
        "payload": qr[: signing.MAX_TEXT_LENGTH],
        "scanned_at": admitted.at,
        "recorded_at": utcnow(),
        "checked_in_at": admitted.at.isoformat(),
    }


def _refusal(ticket: ScannedTicket, payload: signing.Payload) -> tuple[Reason, str] | None:
    """Why a genuine payload of ``ticket`` does not admit to the festival, if it does not."""
    if ticket.revoked_at is not None or ticket.status != "confirmed":
        return "revoked", "The ticket was cancelled"
    if payload.version != ticket.version:
        return "revoked", "A newer ticket was issued"
    if ticket.stream_only:
        return "wrong_list", "An online participant: this ticket admits to the stream, not on site"
    return None


async def scan_ticket(
    session: AsyncSession,
    festival_id: uuid.UUID,
    scan: Scan,
    payload: signing.Payload | signing.BadPayload | None = None,
    ticket: ScannedTicket | None = None,
    door_questions: bool | None = None,
) -> ScanOutcome:
    """Decide and record one scan. ``payload`` and ``ticket`` may come parsed and read
    already, and whether the festival has questions for the door (``door_questions``)."""
    list_title = await _list_title(session, festival_id, scan.list_key)
    if payload is None:
        payload = _payload(scan.qr)
    if isinstance(payload, signing.BadPayload):
        return await _refuse(
            session, festival_id, scan, "invalid", None, f"Not a ticket: {payload}"
        )
    if payload.festival_id != festival_id:
        other = await issuing.public_key_of(session, payload.festival_id)
        if other is not None and signing.verify(other, payload):
            detail = "Another festival"
            return await _refuse(session, festival_id, scan, "wrong_festival", None, detail)
        return await _refuse(session, festival_id, scan, "invalid", None, _FORGED)
    _, public = await issuing.festival_keys(session, festival_id)
    if not signing.verify(public, payload):
        return await _refuse(session, festival_id, scan, "invalid", None, _FORGED)
    if ticket is None or ticket.id != payload.ticket_id:
        params = {"ticket_id": payload.ticket_id}
        connection = await session.connection()
        row = (await connection.execute(queries.TICKET_FOR_SCAN, params)).first()
        if row is None:
            return await _refuse(session, festival_id, scan, "invalid", None, "Unknown ticket")
        ticket = ScannedTicket(*row)
    if (refusal := _refusal(ticket, payload)) is not None:
        reason, detail = refusal
        return await _refuse(session, festival_id, scan, reason, ticket, detail)
    if list_title is not None and not await _holds_seat(session, ticket, scan.list_key):
        detail = f"No seat in {list_title!r}"
        return await _refuse(session, festival_id, scan, "wrong_list", ticket, detail)
    if door_questions is None:
        door_questions = bool(
            await session.scalar(select(queries.DOOR_QUESTIONS.where(Festival.id == festival_id)))
        )
    notes = await _door_notes(session, ticket.registration_id) if door_questions else ()
    return await _admit(session, festival_id, scan, ticket, notes)


async def _door_notes(
    session: AsyncSession, registration_id: uuid.UUID
) -> tuple[tuple[str, str], ...]:
    """The answers the door screen shows with the name (an access need, say)."""
    rows = await session.execute(
        select(RegistrationAnswer.label, RegistrationAnswer.value)
        .join(RegistrationQuestion, RegistrationQuestion.id == RegistrationAnswer.question_id)
        .where(
            RegistrationAnswer.registration_id == registration_id,
            RegistrationQuestion.at_door.is_(True),
        )
        .order_by(RegistrationQuestion.position)
    )
    return tuple((label, _shown(value)) for label, value in rows)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


async def _list_title(session: AsyncSession, festival_id: uuid.UUID, list_key: str) -> str | None:
    """None for the festival entrance; a session's title (if it has seats) for its door."""
    if list_key == FESTIVAL_LIST:
        return None
    try:
        session_id = uuid.UUID(list_key)
    except ValueError:
        raise NotFound(f"No check-in list {list_key!r}", field="list") from None
    found = await session.get(Session, session_id)
    if found is None or found.festival_id != festival_id:
        raise NotFound(f"No check-in list {list_key!r}", field="list")
    return found.title if found.capacity is not None else None


async def _holds_seat(session: AsyncSession, ticket: ScannedTicket, list_key: str) -> bool:
    seat = await session.scalar(
        select(SeatReservation.id).where(
            SeatReservation.registration_id == ticket.registration_id,
            SeatReservation.session_id == uuid.UUID(list_key),
            SeatReservation.status == "confirmed",
        )
    )
    return seat is not None


async def _admit(
    session: AsyncSession,
    festival_id: uuid.UUID,
    scan: Scan,
    ticket: ScannedTicket,
    notes: tuple[tuple[str, str], ...] = (),
) -> Admitted | AlreadyIn:
    """Record the check-in, unless a live one exists: then :class:`AlreadyIn`.

    The first check-in recorded wins, online or offline: an offline scan that
    claims an earlier time does not replace it (a scanner's clock is not proof,
    and the arrival record is not for rewriting). A lost insert looks again.
    """
    for _ in range(5):
        admitted = Admitted(
            uuid.uuid4(), ticket.name, scan.list_key, scan.gate, scan.scanned_at, notes
        )
        if await _insert_live(await session.connection(), festival_id, scan, ticket, admitted):
            return admitted
        live = await session.scalar(queries.live_checkin(ticket.id, scan.list_key))
        if live is None:
            continue  # reverted meanwhile
        return await _already(session, festival_id, scan, ticket, live)
    raise Conflict("This ticket is being checked in at another door right now: scan again")


async def _already(
    session: AsyncSession, festival_id: uuid.UUID, scan: Scan, ticket: ScannedTicket, live: Checkin
) -> AlreadyIn:
    outcome = AlreadyIn(
        uuid.uuid4(), ticket.name, scan.list_key, live.scanned_at, live.gate, live.id
    )
    await _write(session, festival_id, scan, ticket.id, outcome)
    return outcome


async def _insert_live(
    connection: AsyncConnection,
    festival_id: uuid.UUID,
    scan: Scan,
    ticket: ScannedTicket,
    admitted: Admitted,
) -> bool:
    """Insert the live check-in unless one exists (the partial unique index decides)."""
    values = _row(festival_id, scan, admitted.id, "ok", ticket.id, record(admitted))
    return await queries.INSERT_LIVE_CHECKIN.first(connection, values | {"live": True}) is not None


def _row(
    festival_id: uuid.UUID,
    scan: Scan,
    checkin_id: uuid.UUID,
    result: str,
    ticket_id: uuid.UUID | None,
    reply: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": checkin_id,
        "festival_id": festival_id,
        "ticket_id": ticket_id,
        "list_key": scan.list_key,
        "result": result,
        "live": False,
        "gate": scan.gate,
        "device_id": scan.device_id,
        "scan_key": scan.scan_key,
        "payload": scan.qr[: signing.MAX_TEXT_LENGTH],
        "scanned_at": scan.scanned_at,
        "recorded_at": utcnow(),
        "staff_token_id": scan.staff_token_id,
        "reply": reply,
        "reverts_id": None,
    }


async def _refuse(
    session: AsyncSession,
    festival_id: uuid.UUID,
    scan: Scan,
    reason: Reason,
    ticket: ScannedTicket | None,
    detail: str,
) -> Refused:
    """Record a refused scan."""
    outcome = Refused(uuid.uuid4(), reason, scan.list_key, detail)
    await _write(session, festival_id, scan, ticket.id if ticket else None, outcome)
    return outcome


async def _write(
    session: AsyncSession,
    festival_id: uuid.UUID,
    scan: Scan,
    ticket_id: uuid.UUID | None,
    outcome: AlreadyIn | Refused,
) -> None:
    """Record a denied scan (not live: the index over live rows does not see it)."""
    result = outcome.reason if isinstance(outcome, Refused) else "already_checked_in"
    values = _row(festival_id, scan, outcome.id, result, ticket_id, record(outcome))
    await (await session.connection()).execute(queries.INSERT_CHECKIN, values)


async def revert(
    session: AsyncSession, principal: Principal, slug: str, checkin_id: uuid.UUID
) -> dict[str, Any]:
    """Revert a live check-in: a new history entry, and the ticket may be scanned again."""
    festival = await door_festival(session, principal, slug)
    found = await session.get(Checkin, checkin_id)
    if found is None or found.festival_id != festival.id:
        raise NotFound("No such check-in")
    result = await session.execute(
        update(Checkin)
        .where(Checkin.id == checkin_id, Checkin.live.is_(True))
        .values(live=False)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise CheckinNotLive("This check-in is not live: denied, superseded or reverted already")
    revert_id, now = uuid.uuid4(), utcnow()
    body = {
        "id": str(revert_id),
        "result": "reverted",
        "reverts": str(checkin_id),
        "list": found.list_key,
        "reverted_at": now.isoformat(),
    }
    scan = Scan("", found.list_key, found.gate, now, staff_token_id=principal.token_id)
    values = _row(festival.id, scan, revert_id, "reverted", found.ticket_id, body)
    await session.execute(insert(Checkin).values(**values | {"reverts_id": checkin_id}))
    return body


def scan_key(device_id: str, qr: str, scanned_at: datetime) -> str:
    """What makes an offline scan the same scan when a batch is sent again."""
    raw = f"{device_id}\x00{qr}\x00{scanned_at.isoformat()}".encode()
    return hashlib.sha256(raw).hexdigest()
