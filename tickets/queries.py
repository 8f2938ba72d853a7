"""Statements of tickets, and what a principal may see of registrations.

Places and seats change hands only through the conditional updates here.
Under PostgreSQL's READ COMMITTED a concurrent updater waits for the row lock
(or skips it, for places) and then re-checks its condition against the
committed row; SQLite runs one writer at a time (``BEGIN IMMEDIATE``). So two
hundred racing claims for ten places give exactly ten successes on both.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    case,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import Exists, ScalarSelect
from sqlalchemy.types import TypeEngine

from festival.auth import TOKEN_COLUMNS, Principal
from festival.db import Prepared, UTCDateTime
from festival.models import Festival, Token
from festival.queries import team_festivals
from festival.roles import Permission
from schedule.models import Session
from tickets.models import (
    FESTIVAL_LIST,
    Checkin,
    OutboxMessage,
    Place,
    Registration,
    RegistrationQuestion,
    SeatReservation,
    SessionSeats,
    Ticket,
    Ticketing,
)


def visible_registrations(principal: Principal | None) -> ColumnElement[bool]:
    """An organiser sees the registrations of the festivals where their role grants
    ``attendees`` (:mod:`festival.roles`); an attendee their own."""
    if principal is None:
        return false()
    if principal.is_organiser and principal.account_id is not None:
        teams = select(Festival.id).where(team_festivals(principal, Permission.ATTENDEES))
        return Registration.festival_id.in_(teams.scalar_subquery())
    if principal.kind == "attendee" and principal.subject_id is not None:
        return and_(
            Registration.id == principal.subject_id,
            Registration.festival_id == principal.festival_id,
        )
    return false()


async def insert_ignoring_conflict(session: AsyncSession, model: Any, **values: Any) -> None:
    """INSERT a row unless its primary key exists (both dialects say it their way)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        await session.execute(pg_insert(model).values(**values).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        await session.execute(sqlite_insert(model).values(**values).on_conflict_do_nothing())


async def claim_place(
    session: AsyncSession, festival_id: uuid.UUID, registration_id: uuid.UUID, participation: str
) -> bool:
    """Give the registration the highest free place of its line (``participation``)
    within that line's capacity, if there is one.

    Highest, not lowest: a claimed place stays in the free-place index as a dead
    entry until PostgreSQL vacuums it, and a claim that scanned up from place 1
    would walk past every place claimed so far, a cost growing with each
    registration. From the top, it passes at most the claims of the current chunk.
    On PostgreSQL a place another transaction is claiming is skipped, not waited
    for, so concurrent registrations do not queue; the price is that a place
    whose claimant then rolls back goes to the next registration rather than to
    one that was waitlisted meanwhile. Places are made in chunks when needed.
    """
    connection = await session.connection()
    claim = _CLAIM_PLACE[connection.dialect.name]
    params = {"festival": festival_id, "claimant": registration_id, "line": participation}
    while True:
        claimed = await connection.execute(claim, params)
        if claimed.first() is not None:
            return True
        if not await _more_places(session, festival_id, participation):
            return False


def _claim_place(skip_locked: bool) -> Update:
    """The claim of the highest free place within capacity, built once per dialect."""
    festival: BindParameter[uuid.UUID] = bindparam("festival")
    line: BindParameter[str] = bindparam("line")
    free = _free_places(festival, line).order_by(Place.number.desc()).limit(1)
    if skip_locked:
        free = free.with_for_update(skip_locked=True)
    return (
        update(Place)
        .where(
            Place.festival_id == festival,
            Place.participation == line,
            Place.number == free.scalar_subquery(),
            Place.registration_id.is_(None),
        )
        .values(registration_id=bindparam("claimant"))
        .returning(Place.number)
    )


FestivalRef = BindParameter[uuid.UUID] | uuid.UUID  # a festival id, given or a parameter
LineRef = BindParameter[str] | str  # a participation, given or a parameter
# A hybrid festival's online line without an online_capacity: as good as no limit.
UNLIMITED = 1_000_000


def _free_places(festival: FestivalRef, line: LineRef) -> Select[int]:
    """The festival's places of one line within its capacity that nobody holds."""
    return select(Place.number).where(
        Place.festival_id == festival,
        Place.participation == line,
        Place.registration_id.is_(None),
        Place.number <= _capacity(festival, line),
    )


def _capacity(festival: FestivalRef, line: LineRef) -> ScalarSelect[int]:
    """A line's capacity: a hybrid festival's online places are ``online_capacity``;
    every other line's are ``capacity`` (the hall's, or an online festival's)."""
    online_of_hybrid = and_(Festival.mode == "hybrid", literal_column_of(line) == "online")
    places = case(
        (online_of_hybrid, func.coalesce(Festival.online_capacity, UNLIMITED)),
        else_=Festival.capacity,
    )
    return select(places).where(Festival.id == festival).scalar_subquery()


def literal_column_of(line: LineRef) -> Any:
    return line if isinstance(line, BindParameter) else literal(line)


def _places_made(festival: FestivalRef, line: LineRef) -> ScalarSelect[int]:
    """How many place rows a line of the festival has (they are numbered from 1)."""
    return (
        select(func.coalesce(func.max(Place.number), 0))
        .where(Place.festival_id == festival, Place.participation == line)
        .scalar_subquery()
    )


_CLAIM_PLACE = {"postgresql": _claim_place(skip_locked=True), "sqlite": _claim_place(False)}


PLACE_CHUNK = 256


async def has_free_place(session: AsyncSession, festival_id: uuid.UUID, participation: str) -> bool:
    """Whether a place of the line within its capacity is free or still to be made
    (reads, locks nothing)."""
    free = _free_places(festival_id, participation).exists()
    made_fewer = _places_made(festival_id, participation) < _capacity(festival_id, participation)
    return bool(await session.scalar(select(or_(free, made_fewer))))


async def _more_places(session: AsyncSession, festival_id: uuid.UUID, participation: str) -> bool:
    """Make the next chunk of a line's place rows unless all exist; False if they do."""
    connection = await session.connection()
    params = {"festival": festival_id, "line": participation}
    made, capacity = (await connection.execute(_PLACES_MADE, params)).one()
    if made >= capacity:
        return False
    numbers = range(made + 1, min(made + PLACE_CHUNK, capacity) + 1)
    rows = [
        {"festival_id": festival_id, "participation": participation, "number": n} for n in numbers
    ]
    # One statement built once, run for many rows: a registration rush makes a
    # chunk every PLACE_CHUNK registrations, and nothing of it is compiled again
    # (an ORM-built multi-row VALUES would be, each time).
    await connection.execute(_MAKE_PLACES[connection.dialect.name], rows)
    return True


_PLACES_MADE = select(
    _places_made(bindparam("festival"), bindparam("line")),
    _capacity(bindparam("festival"), bindparam("line")),
)
_PLACES = cast(Table, Place.__table__)
_MAKE_PLACES = {
    "postgresql": postgresql.insert(_PLACES).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(_PLACES).on_conflict_do_nothing(),
}


async def release_place(session: AsyncSession, registration_id: uuid.UUID) -> None:
    await session.execute(
        update(Place)
        .where(Place.registration_id == registration_id)
        .values(registration_id=None)
        .execution_options(synchronize_session=False)
    )


async def next_waitlist_seq(session: AsyncSession, festival_id: uuid.UUID) -> int:
    seq = await session.scalar(
        update(Ticketing)
        .where(Ticketing.festival_id == festival_id)
        .values(waitlist_seq=Ticketing.waitlist_seq + 1)
        .returning(Ticketing.waitlist_seq)
        .execution_options(synchronize_session=False)
    )
    assert seq is not None
    return int(seq)


async def bump_bundle_version(session: AsyncSession, festival_id: uuid.UUID) -> None:
    await session.execute(
        update(Ticketing)
        .where(Ticketing.festival_id == festival_id)
        .values(bundle_version=Ticketing.bundle_version + 1)
        .execution_options(synchronize_session=False)
    )


async def claim_seat(session: AsyncSession, session_id: uuid.UUID) -> bool:
    capacity = select(Session.capacity).where(Session.id == session_id).scalar_subquery()
    result = await session.execute(
        update(SessionSeats)
        .where(SessionSeats.session_id == session_id, SessionSeats.taken < capacity)
        .values(taken=SessionSeats.taken + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release_seat(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.execute(
        update(SessionSeats)
        .where(SessionSeats.session_id == session_id, SessionSeats.taken > 0)
        .values(taken=SessionSeats.taken - 1)
        .execution_options(synchronize_session=False)
    )


async def next_seat_seq(session: AsyncSession, session_id: uuid.UUID) -> int:
    seq = await session.scalar(
        update(SessionSeats)
        .where(SessionSeats.session_id == session_id)
        .values(waitlist_seq=SessionSeats.waitlist_seq + 1)
        .returning(SessionSeats.waitlist_seq)
        .execution_options(synchronize_session=False)
    )
    assert seq is not None
    return int(seq)


async def change_status(
    session: AsyncSession, model: Any, row_id: uuid.UUID, old: str, new: str, **values: Any
) -> bool:
    """Move a row from ``old`` to ``new`` status; False if someone else moved it first."""
    result = await session.execute(
        update(model)
        .where(model.id == row_id, model.status == old)
        .values(status=new, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def active_registration_by_email(festival_id: uuid.UUID, email: str) -> Select[uuid.UUID]:
    return select(Registration.id).where(
        Registration.festival_id == festival_id,
        Registration.email == email,
        Registration.status != "cancelled",
    )


def first_waitlisted(festival_id: uuid.UUID, participation: str) -> Select[Registration]:
    return (
        select(Registration)
        .where(
            Registration.festival_id == festival_id,
            Registration.participation == participation,
            Registration.status == "waitlisted",
        )
        .order_by(Registration.waitlist_seq)
        .limit(1)
    )


def waitlist_position(
    festival_id: uuid.UUID, waitlist_seq: int | None, participation: str
) -> Select[int]:
    return select(func.count()).where(
        Registration.festival_id == festival_id,
        Registration.participation == participation,
        Registration.status == "waitlisted",
        Registration.waitlist_seq <= (waitlist_seq or 0),
    )


def first_seat_waitlisted(session_id: uuid.UUID) -> Select[SeatReservation]:
    return (
        select(SeatReservation)
        .where(SeatReservation.session_id == session_id, SeatReservation.status == "waitlisted")
        .order_by(SeatReservation.waitlist_seq)
        .limit(1)
    )


def seat_position(reservation: SeatReservation) -> Select[int]:
    return select(func.count()).where(
        SeatReservation.session_id == reservation.session_id,
        SeatReservation.status == "waitlisted",
        SeatReservation.waitlist_seq <= (reservation.waitlist_seq or 0),
    )


def active_seats(registration_id: uuid.UUID) -> Select[SeatReservation]:
    return (
        select(SeatReservation)
        .where(
            SeatReservation.registration_id == registration_id,
            SeatReservation.status != "released",
        )
        .order_by(SeatReservation.created_at)
    )


def overlapping_reservation(registration_id: uuid.UUID, session: Session) -> Select[Session]:
    """Another session this attendee holds a seat in (or waits for) that overlaps ``session``."""
    return (
        select(Session)
        .join(SeatReservation, SeatReservation.session_id == Session.id)
        .where(
            SeatReservation.registration_id == registration_id,
            SeatReservation.status != "released",
            Session.id != session.id,
            Session.status != "cancelled",
            Session.starts_at < session.ends_at,
            Session.ends_at > session.starts_at,
        )
        .limit(1)
    )


def ticket_of(registration_id: uuid.UUID) -> Select[Ticket]:
    return select(Ticket).where(Ticket.registration_id == registration_id)


def live_checkin(ticket_id: uuid.UUID, list_key: str) -> Select[Checkin]:
    return select(Checkin).where(
        Checkin.ticket_id == ticket_id, Checkin.list_key == list_key, Checkin.live.is_(True)
    )


# What a door needs of a ticket, as plain columns (the hot path of check-in).
_OWN = aliased(Festival)
# Whether the festival asks a question whose answer the door screen shows.
DOOR_QUESTIONS = (
    select(RegistrationQuestion.id)
    .where(
        RegistrationQuestion.festival_id == Festival.id,
        RegistrationQuestion.at_door.is_(True),
        RegistrationQuestion.archived_at.is_(None),
    )
    .exists()
)
SCANNED_TICKET_COLUMNS = (
    Ticket.id,
    Ticket.version,
    Ticket.revoked_at,
    Registration.id,
    Registration.name,
    Registration.status,
    Registration.participation,
    # The mode of the ticket's own festival (the URL's may be another: wrong_festival).
    select(_OWN.mode).where(_OWN.id == Registration.festival_id).scalar_subquery(),
)
TICKET_FOR_SCAN = (
    select(*SCANNED_TICKET_COLUMNS)
    .join(Registration, Registration.id == Ticket.registration_id)
    .where(Ticket.id == bindparam("ticket_id"))
)
# A scan at the door in one read: the scanner's token, the festival of the URL
# and the scanned ticket (each column NULL when there is no such thing). Built
# and compiled once, executed with parameters: nothing is compiled per scan.
DOOR = (
    select(
        *TOKEN_COLUMNS,
        Festival.id,
        Festival.published_at,
        Festival.owner_id,
        DOOR_QUESTIONS,
        *SCANNED_TICKET_COLUMNS,
    )
    .select_from(Token)
    .outerjoin(Festival, Festival.slug == bindparam("slug"))
    .outerjoin(Ticket, Ticket.id == bindparam("ticket_id", type_=Uuid()))
    .outerjoin(Registration, Registration.id == Ticket.registration_id)
    .where(Token.token_hash == bindparam("token_hash"))
)
DOOR_ROW = Prepared(DOOR)
INSERT_CHECKIN = insert(Checkin)
_LIVE_KEY, _LIVE_WHERE = ["ticket_id", "list_key"], text("live")
# Unless a live check-in of the ticket at that list exists (the partial unique
# index). Given every column (``checkin._row``).
INSERT_LIVE_CHECKIN = Prepared(
    {
        "postgresql": postgresql.insert(Checkin)
        .on_conflict_do_nothing(index_elements=_LIVE_KEY, index_where=_LIVE_WHERE)
        .returning(Checkin.id),
        "sqlite": sqlite.insert(Checkin)
        .on_conflict_do_nothing(index_elements=_LIVE_KEY, index_where=_LIVE_WHERE)
        .returning(Checkin.id),
    }
)


# What each scan of a batch brings to DOOR_ADMISSIONS, one array each (by name).
ADMISSION_FIELDS: dict[str, TypeEngine[Any]] = {
    "token_hash": String(),
    "slug": String(),
    "ticket_id": Uuid(),
    "festival_id": Uuid(),  # the festival the payload names
    "version": Integer(),  # and the ticket version it carries
    "id": Uuid(),  # of the check-in to write
    "gate": String(),
    "payload": String(),
    "scanned_at": UTCDateTime(),
    "recorded_at": UTCDateTime(),
    "checked_in_at": String(),  # scanned_at as the reply says it (``checkin.record``)
}


def _door_admissions() -> Select[Any]:
    """The door's common scans, a batch in one statement (``checkin.DoorLine``, PostgreSQL).

    For each scan (the arrays of ``ADMISSION_FIELDS``, one element a scan), the
    ``DOOR`` read, and in the same statement its live check-in, inserted only
    when the row read is the common scan: a live check-in token of this
    festival, the festival the payload names, no answers to show at the door,
    and a confirmed ticket of the payload's version that admits on site. These
    are the rules ``checkin`` applies to a ``DOOR`` row (``live_principal``,
    ``_door_of``, ``_refusal``), said here in SQL; the tests of the at-once path
    hold the two to each other. One row per scan, in the order given: ``DOOR``'s
    columns (NULLs for an unknown token), then the id of the check-in inserted,
    NULL when none was (anything else is decided by ``check_in``). Two scans of
    one ticket in a batch insert one row: the live index takes the first. The
    row kept (``reply``) is ``checkin.record``'s.
    """
    arrays = [bindparam(name, type_=ARRAY(kind)) for name, kind in ADMISSION_FIELDS.items()]
    scans = (
        func.unnest(*arrays)
        .table_valued(*ADMISSION_FIELDS, with_ordinality="position")
        .render_derived(name="scans")
    )
    door = (
        select(*DOOR.selected_columns, *(c.label(f"scan_{c.key}") for c in scans.c))
        .select_from(scans)
        .outerjoin(Token, Token.token_hash == scans.c.token_hash)
        .outerjoin(Festival, Festival.slug == scans.c.slug)
        .outerjoin(Ticket, Ticket.id == scans.c.ticket_id)
        .outerjoin(Registration, Registration.id == Ticket.registration_id)
        .cte("door")
    )
    columns = list(door.c)[: len(DOOR.selected_columns)]
    token = dict(zip((c.key for c in TOKEN_COLUMNS), columns, strict=False))
    festival_id, _, _, door_questions = columns[len(TOKEN_COLUMNS) : len(TOKEN_COLUMNS) + 4]
    (ticket_id, version, revoked_at, _, name, status, participation, mode) = columns[
        len(TOKEN_COLUMNS) + 4 :
    ]
    scan = {c.key: door.c[f"scan_{c.key}"] for c in scans.c}
    now = bindparam("now", type_=UTCDateTime())
    common = and_(
        token["revoked_at"].is_(None),
        or_(token["expires_at"].is_(None), token["expires_at"] > now),
        token["kind"] == "staff",
        token["role"] == "checkin",
        token["festival_id"] == festival_id,
        festival_id == scan["festival_id"],
        not_(door_questions),
        version == scan["version"],
        revoked_at.is_(None),
        status == "confirmed",
        not_(and_(participation == "online", mode == "hybrid")),
    )
    reply = func.json_build_object(
        "id",
        sql_cast(scan["id"], String()),
        "result",
        "ok",
        "attendee",
        func.json_build_object("name", name),
        "list",
        FESTIVAL_LIST,
        "gate",
        scan["gate"],
        "checked_in_at",
        scan["checked_in_at"],
    )
    values = {
        "id": scan["id"],
        "festival_id": festival_id,
        "ticket_id": ticket_id,
        "list_key": literal(FESTIVAL_LIST),
        "result": literal("ok"),
        "live": true(),
        "gate": scan["gate"],
        "payload": scan["payload"],
        "scanned_at": scan["scanned_at"],
        "recorded_at": scan["recorded_at"],
        "staff_token_id": token["id"],
        "reply": reply,
    }
    admitted = (
        postgresql.insert(Checkin)
        .from_select(
            list(values),
            # In the batch's order, so that of two scans of one ticket the first wins.
            select(*values.values()).where(common).order_by(scan["position"]),
        )
        .on_conflict_do_nothing(index_elements=_LIVE_KEY, index_where=_LIVE_WHERE)
        .returning(Checkin.id)
        .cte("admitted")
    )
    return (
        select(*columns, admitted.c.id)
        .select_from(door.outerjoin(admitted, admitted.c.id == scan["id"]))
        .order_by(scan["position"])
    )


DOOR_ADMISSIONS = Prepared({"postgresql": _door_admissions()})


# Registration's first read, built once: the festival (published only) with what
# its registration window needs, whether the e-mail holds an active registration
# there, and whether anyone waits. Its columns are ``registration.Desk``'s, in order.
def _waiting_in(line: str) -> Exists:
    """Whether anyone waits in the festival's ``line`` (one probe of the waiting index)."""
    return (
        select(Registration.id)
        .where(
            Registration.festival_id == Festival.id,
            Registration.participation == line,
            Registration.status == "waitlisted",
        )
        .exists()
    )


REGISTRATION_DESK = select(
    Festival.id,
    Festival.name,
    Festival.published_at,
    Festival.registration_opens_at,
    Festival.registration_closes_at,
    Festival.timezone,
    Festival.ends_on,
    select(Registration.id)
    .where(
        Registration.festival_id == Festival.id,
        Registration.email == bindparam("email"),
        Registration.status != "cancelled",
    )
    .exists(),
    _waiting_in("onsite"),
    Festival.confirm_email,
    Festival.confirm_hold_minutes,
    Festival.mode,
    _waiting_in("online"),
    select(RegistrationQuestion.id)
    .where(
        RegistrationQuestion.festival_id == Festival.id,
        RegistrationQuestion.archived_at.is_(None),
    )
    .exists(),
).where(Festival.slug == bindparam("slug"), Festival.published_at.is_not(None))
DESK = Prepared(REGISTRATION_DESK)
INSERT_TOKENS = insert(Token)
INSERT_REGISTRATION = insert(Registration)
INSERT_TICKET = insert(Ticket)


# On PostgreSQL a registration's common case is one statement: the claim of a
# place, and, only if it got one, the registration, its two tokens, its ticket
# and its letter as data-modifying CTEs (foreign keys are checked at its end).
# Run in autocommit, it leaves a festival without a free place untouched.
# Each row's values are parameters named ``<part><i>_<column>``.
_ENROLMENT_PARTS = (
    ("registration", cast(Table, Registration.__table__)),
    ("token", cast(Table, Token.__table__)),
    ("ticket", cast(Table, Ticket.__table__)),
    ("letter", cast(Table, OutboxMessage.__table__)),
)


Row = dict[str, Any]


def enrolment(
    registration: Row, tokens: list[Row], ticket: Row, letter: Row
) -> tuple[Prepared, dict[str, Any]]:
    """The one statement (PostgreSQL) and its parameters; it returns the place claimed, if any.

    Given the rows as :class:`tickets.registration.Draft` holds them."""
    parts = (registration, tokens, ticket, letter)
    rows = [part if isinstance(part, list) else [part] for part in parts]
    shape = tuple((len(r), tuple(r[0])) for r in rows)
    params = {
        f"{name}{i}_{key}": value
        for (name, _), part_rows in zip(_ENROLMENT_PARTS, rows, strict=True)
        for i, row in enumerate(part_rows)
        for key, value in row.items()
    }
    params |= {
        "festival": registration["festival_id"],
        "claimant": registration["id"],
        "line": registration["participation"],
    }
    return _enrolment(shape), params


@functools.cache
def _enrolment(shape: tuple[tuple[int, tuple[str, ...]], ...]) -> Prepared:
    claimed = _CLAIM_PLACE["postgresql"].cte("claim")
    placed = select(claimed.c.number).exists()
    # One CTE per row: a multi-row VALUES would not be cached by SQLAlchemy and
    # was compiled again on every registration.
    ctes = [
        insert(table)
        .from_select(
            list(keys),
            select(*(bindparam(f"{name}{i}_{key}", type_=table.c[key].type) for key in keys)).where(
                placed
            ),
        )
        .cte(f"{name}{i}")
        for (name, table), (count, keys) in zip(_ENROLMENT_PARTS, shape, strict=True)
        for i in range(count)
    ]
    return Prepared({"postgresql": select(claimed.c.number).add_cte(*ctes)})
