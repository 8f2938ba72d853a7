"""Offline scanning: the bundle a scanner verifies with, and syncing its scans back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.db import utcnow
from festival.errors import FestivalError
from festival.models import Festival
from tickets import checkin, devices, issuing, signing
from tickets.models import Checkin, Ticket, Ticketing
from tickets.schemas import CheckinBundle, OfflineScan, RevokedPayload


async def bundle(session: AsyncSession, principal: Principal, slug: str) -> CheckinBundle:
    """What a scanner needs to verify tickets without the server.

    ``revoked`` lists every payload (ticket id and version) that must be refused:
    earlier versions of reissued tickets and every version of cancelled ones.
    ``bundle_version`` rises with each revocation, so a scanner can tell it is stale.
    """
    festival = await checkin.door_festival(session, principal, slug)
    _, public = await issuing.festival_keys(session, festival.id)
    version = await session.scalar(
        select(Ticketing.bundle_version).where(Ticketing.festival_id == festival.id)
    )
    rows = (
        await session.execute(
            select(Ticket.id, Ticket.version, Ticket.revoked_at)
            .where(
                Ticket.festival_id == festival.id,
                or_(Ticket.version > 1, Ticket.revoked_at.is_not(None)),
            )
            .order_by(Ticket.id)
        )
    ).all()
    revoked: list[RevokedPayload] = []
    for ticket_id, current, revoked_at in rows:
        last = current if revoked_at is not None else current - 1
        revoked += [RevokedPayload(ticket_id=ticket_id, version=v) for v in range(1, last + 1)]
    return CheckinBundle(
        festival_id=festival.id,
        festival=festival.slug,
        payload_format=signing.FORMAT,
        public_key=signing.b64url(public),
        bundle_version=version or 1,
        generated_at=utcnow(),
        revoked=revoked,
        revoked_ticket_ids=[r[0] for r in rows if r[2] is not None],
    )


@dataclass(frozen=True)
class NotAScan:
    """An item of a batch that is not a scan the server can take: malformed, or
    naming a check-in list the festival does not have. Nothing is recorded."""

    detail: str


SyncResult: TypeAlias = checkin.ScanOutcome | NotAScan


def _not_a_scan(index: int, error: ValidationError | str) -> NotAScan:
    detail = (
        error
        if isinstance(error, str)
        else "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
    )
    return NotAScan(f"scans[{index}]: {detail}")


# How far an offline scan's time may stray: the day before the festival to the
# day after it (set-up and late syncs, in the festival's zone), and no later
# than the server's clock plus a scanner's plausible drift.
WINDOW_DAYS = 1
CLOCK_SKEW = timedelta(minutes=5)


def scan_window(festival: Festival, now: datetime) -> tuple[datetime, datetime]:
    """When an offline scan may have happened: ``[earliest, latest]``."""
    zone = ZoneInfo(festival.timezone)
    first = festival.starts_on - timedelta(days=WINDOW_DAYS)
    after = festival.ends_on + timedelta(days=WINDOW_DAYS + 1)
    earliest = datetime.combine(first, time(), zone)
    latest = min(datetime.combine(after, time(), zone), now + CLOCK_SKEW)
    return earliest, latest


def _out_of_window(item: OfflineScan, window: tuple[datetime, datetime]) -> str | None:
    earliest, latest = window
    if earliest <= item.scanned_at <= latest:
        return None
    return (
        f"scanned_at {item.scanned_at.isoformat()} is outside the festival's scanning window "
        f"({earliest.isoformat()} to {latest.isoformat()}, never in the future): "
        "check the scanner's clock; nothing was recorded"
    )


async def sync(
    session: AsyncSession, principal: Principal, slug: str, scans: list[Any]
) -> list[SyncResult]:
    """Record scans a registered device made offline; one result per scan, in order.

    Every ``device_id`` must be a device this token registered and the organiser
    did not revoke (:func:`tickets.devices.ensure_registered`), else the whole
    sync is refused before anything is recorded. A scan whose ``scanned_at`` is
    outside :func:`scan_window` is :class:`NotAScan` (refused, not clamped: a
    clamped time would be an arrival nobody saw). Scans are applied in the order
    they happened, but the first check-in recorded wins: an offline scan never
    replaces a live check-in, online or synced earlier; it is answered
    ``already_checked_in``. A scan already synced (the same device, payload and
    time) answers with its first result, so sending a batch again changes
    nothing. Each scan runs in its own savepoint: a bad one is answered as
    :class:`NotAScan` and the others go on.
    """
    festival = await checkin.door_festival(session, principal, slug)
    named = (
        raw["device_id"]
        for raw in scans
        if isinstance(raw, dict) and isinstance(raw.get("device_id"), str)
    )
    await devices.ensure_registered(session, principal, festival, named)
    window = scan_window(festival, utcnow())
    results: list[SyncResult | None] = [None] * len(scans)
    valid: list[tuple[int, OfflineScan]] = []
    for index, raw in enumerate(scans):
        try:
            item = OfflineScan.model_validate(raw)
        except ValidationError as exc:
            results[index] = _not_a_scan(index, exc)
            continue
        if (stray := _out_of_window(item, window)) is not None:
            results[index] = _not_a_scan(index, stray)
        else:
            valid.append((index, item))
    for index, item in sorted(valid, key=lambda pair: pair[1].scanned_at):
        key = checkin.scan_key(item.device_id, item.qr, item.scanned_at)
        scan = checkin.Scan(
            item.qr,
            item.list,
            item.gate,
            item.scanned_at,
            device_id=item.device_id,
            scan_key=key,
            staff_token_id=principal.token_id,
        )
        results[index] = await _sync_one(session, festival, index, scan)
    return [r if r is not None else _not_a_scan(i, "not processed") for i, r in enumerate(results)]


async def _sync_one(
    session: AsyncSession, festival: Festival, index: int, scan: checkin.Scan
) -> SyncResult:
    assert scan.scan_key is not None
    known = await _known(session, festival.id, scan.scan_key)
    if known is not None:
        return known
    try:
        async with session.begin_nested():
            outcome = await checkin.scan_ticket(session, festival.id, scan)
    except FestivalError as exc:
        return _not_a_scan(index, exc.detail)
    except IntegrityError:  # the same scan, synced by a concurrent request
        return await _known(session, festival.id, scan.scan_key) or _not_a_scan(index, "retry")
    return outcome


async def _known(
    session: AsyncSession, festival_id: uuid.UUID, key: str
) -> checkin.ScanOutcome | None:
    """What the scan with this key answered the first time, if it was synced before."""
    kept = await session.scalar(
        select(Checkin.reply).where(Checkin.festival_id == festival_id, Checkin.scan_key == key)
    )
    return checkin.recorded(kept) if kept is not None else None
