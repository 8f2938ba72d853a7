"""Organiser views: registrations, the attendee CSV, check-in stats and the arrivals chart."""

from __future__ import annotations

import csv
import io
import uuid
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Select, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from festival.auth import Principal
from festival.errors import Forbidden
from festival.models import Festival
from festival.pagination import keyset_page
from festival.roles import Permission
from festival.service import get_festival, get_managed_festival
from schedule.models import Session
from tickets import queries, questions
from tickets.models import (
    FESTIVAL_LIST,
    Checkin,
    Registration,
    RegistrationAnswer,
    SeatReservation,
    Ticket,
)
from tickets.schemas import ArrivalBucket, CheckinStats, ListStats

BUCKET_SECONDS = 15 * 60
RegistrationStatus = Literal["confirmed", "waitlisted", "cancelled"]


async def list_registrations(
    session: AsyncSession,
    principal: Principal,
    slug: str,
    *,
    status: RegistrationStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Registration], str | None]:
    """One page of a festival's registrations in arrival order, optionally by status."""
    festival = await get_managed_festival(session, principal, slug, Permission.ATTENDEES)
    stmt = select(Registration).where(
        Registration.festival_id == festival.id, queries.visible_registrations(principal)
    )
    if status is not None:
        stmt = stmt.where(Registration.status == status)
    return await keyset_page(
        session, stmt, Registration.created_at, Registration.id, limit=limit, cursor=cursor
    )


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def attendees_csv(session: AsyncSession, principal: Principal, slug: str) -> str:
    """Every registration that is not cancelled, with its festival check-in time."""
    festival = await get_managed_festival(session, principal, slug, Permission.ATTENDEES)
    checked_in = (
        select(Checkin.scanned_at)
        .join(Ticket, Ticket.id == Checkin.ticket_id)
        .where(
            Ticket.registration_id == Registration.id,
            Checkin.list_key == FESTIVAL_LIST,
            Checkin.live.is_(True),
        )
        .limit(1)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Registration, checked_in)
        .where(Registration.festival_id == festival.id, Registration.status != "cancelled")
        .order_by(Registration.created_at, Registration.id)
    )
    form = await questions.of_festival(session, festival.id)
    answered: dict[uuid.UUID, dict[uuid.UUID, Any]] = {}
    if form:
        for registration_id, question_id, value in await session.execute(
            select(
                RegistrationAnswer.registration_id,
                RegistrationAnswer.question_id,
                RegistrationAnswer.value,
            )
            .join(Registration, Registration.id == RegistrationAnswer.registration_id)
            .where(Registration.festival_id == festival.id)
        ):
            answered.setdefault(registration_id, {})[question_id] = value
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, *(_cell(q.label) for q in form)])
    for registration, at in rows:
        theirs = answered.get(registration.id, {})
        asked = [_cell(_answer_text(theirs.get(q.id))) for q in form]
        writer.writerow([*_csv_row(registration, at), *asked])
    return out.getvalue()


def _answer_text(value: Any) -> str:
    """An answer as a spreadsheet cell: yes/no, choices joined by "; "."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


CSV_COLUMNS = (
    "id",
    "name",
    "email",
    "organisation",
    "country",
    "status",
    "registered_at",
    "checked_in_at",
    "participation",
)


def _csv_row(registration: Registration, checked_in_at: datetime | None) -> list[str]:
    typed = (registration.name, registration.email, registration.organisation, registration.country)
    return [
        str(registration.id),
        *(_cell(value) for value in typed),
        registration.status,
        registration.created_at.isoformat(),
        checked_in_at.isoformat() if checked_in_at is not None else "",
        registration.participation,
    ]


async def stats_festival(session: AsyncSession, principal: Principal, slug: str) -> Festival:
    """Stats are for the festival's organisers and its check-in staff."""
    festival = await get_festival(session, principal, slug)
    team = principal.may(Permission.READ, festival.id, festival.owner_id)
    if not (team or principal.may_check_in(festival.id)):
        raise Forbidden("Only organisers and check-in staff see check-in stats")
    return festival


def _bucket(session: AsyncSession) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.floor(func.extract("epoch", Checkin.scanned_at) / BUCKET_SECONDS)
    return cast(func.strftime("%s", Checkin.scanned_at), Integer) // BUCKET_SECONDS


async def _counts(session: AsyncSession, stmt: Select[Any, int]) -> dict[Any, int]:
    return {key: int(count) for key, count in (await session.execute(stmt)).all()}


async def stats(session: AsyncSession, principal: Principal, slug: str) -> CheckinStats:
    """Counts per status and list, denied scans, and festival arrivals per 15 minutes."""
    festival = await stats_festival(session, principal, slug)
    per_line = (
        await session.execute(
            select(Registration.participation, Registration.status, func.count())
            .where(Registration.festival_id == festival.id)
            .group_by(Registration.participation, Registration.status)
        )
    ).all()
    by_status: dict[str, int] = {}
    by_participation: dict[str, dict[str, int]] = {}
    for line, status, count in per_line:
        by_status[status] = by_status.get(status, 0) + count
        by_participation.setdefault(line, {})[status] = count
    live = await _counts(
        session,
        select(Checkin.list_key, func.count())
        .where(Checkin.festival_id == festival.id, Checkin.live.is_(True))
        .group_by(Checkin.list_key),
    )
    entrance = ListStats(
        list=FESTIVAL_LIST,
        title=festival.name,
        checked_in=live.pop(FESTIVAL_LIST, 0),
        # Who may come through the door: an online participant of a hybrid festival may not.
        expected=by_status.get("confirmed", 0)
        - (
            by_participation.get("online", {}).get("confirmed", 0)
            if festival.mode == "hybrid"
            else 0
        ),
    )
    return CheckinStats(
        registrations={s: by_status.get(s, 0) for s in ("confirmed", "waitlisted", "cancelled")},
        participation={
            line: {s: counts.get(s, 0) for s in ("confirmed", "waitlisted", "cancelled")}
            for line, counts in sorted(by_participation.items())
        },
        lists=[entrance, *await _session_lists(session, festival, live)],
        arrivals=await arrivals(session, festival),
        denied=await _denied(session, festival),
    )


async def _session_lists(
    session: AsyncSession, festival: Festival, live: dict[str, int]
) -> list[ListStats]:
    """Session doors with seats taken, people waiting or check-ins, by title: the
    door's live occupancy (checked in of capacity, and how many wait)."""
    counted = await session.execute(
        select(SeatReservation.session_id, SeatReservation.status, func.count())
        .join(Session, Session.id == SeatReservation.session_id)
        .where(Session.festival_id == festival.id, SeatReservation.status != "released")
        .group_by(SeatReservation.session_id, SeatReservation.status)
    )
    seats = {(session_id, status): int(n) for session_id, status, n in counted.all()}
    wanted = {session_id for session_id, _ in seats} | {uuid.UUID(key) for key in live}
    rows = await session.execute(
        select(Session.id, Session.title, Session.capacity)
        .where(Session.festival_id == festival.id, Session.id.in_(wanted))
        .order_by(Session.title, Session.id)
    )
    return [
        ListStats(
            list=str(session_id),
            title=title,
            checked_in=live.get(str(session_id), 0),
            expected=seats.get((session_id, "confirmed"), 0),
            capacity=capacity,
            waiting=seats.get((session_id, "waitlisted"), 0),
        )
        for session_id, title, capacity in rows.all()
    ]


async def _denied(session: AsyncSession, festival: Festival) -> dict[str, int]:
    rows = await session.execute(
        select(Checkin.result, func.count())
        .where(Checkin.festival_id == festival.id, Checkin.result.not_in(("ok", "reverted")))
        .group_by(Checkin.result)
    )
    return {result: count for result, count in rows.all()}


async def arrivals(session: AsyncSession, festival: Festival) -> list[ArrivalBucket]:
    """Live festival-entrance check-ins per 15 minutes, by when they were scanned."""
    bucket = _bucket(session).label("bucket")
    rows = await session.execute(
        select(bucket, func.count())
        .where(
            Checkin.festival_id == festival.id,
            Checkin.list_key == FESTIVAL_LIST,
            Checkin.live.is_(True),
        )
        .group_by(bucket)
        .order_by(bucket)
    )
    return [
        ArrivalBucket(starts_at=datetime.fromtimestamp(int(b) * BUCKET_SECONDS, UTC), count=int(n))
        for b, n in rows.all()
    ]


async def arrivals_svg(session: AsyncSession, principal: Principal, slug: str) -> bytes:
    """The arrivals per 15 minutes as an SVG bar chart, in the festival's time zone."""
    festival = await stats_festival(session, principal, slug)
    buckets = await arrivals(session, festival)
    return draw_arrivals(festival.name, ZoneInfo(festival.timezone), buckets)


def draw_arrivals(title: str, zone: ZoneInfo, buckets: list[ArrivalBucket]) -> bytes:
    """Pure drawing: buckets in, SVG bytes out.

    Uses matplotlib's object API with its SVG canvas (no pyplot, no display, no
    global state), so it is safe in a server process.
    """
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.5))
    FigureCanvasSVG(figure)
    axes = figure.add_subplot()
    local = [b.starts_at.astimezone(zone).replace(tzinfo=None) for b in buckets]
    times = [date2num(t) for t in local]  # type: ignore[no-untyped-call]
    axes.bar(
        times,
        [b.count for b in buckets],
        width=BUCKET_SECONDS / 86400 * 0.9,
        align="edge",
        color="#2a7ab0",
    )
    axes.set_title(f"Arrivals per 15 minutes: {title}")
    axes.set_ylabel("check-ins")
    axes.xaxis.set_major_formatter(DateFormatter("%d %b %H:%M"))  # type: ignore[no-untyped-call]
    figure.autofmt_xdate()
    out = io.BytesIO()
    with warnings.catch_warnings():
        # A festival name in a script the chart's font lacks draws boxes, not an error.
        warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
        figure.savefig(out, format="svg")
    return out.getvalue()
