"""Offline scanning: the bundle a scanner verifies with, and syncing its scans back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeAlias

from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.db import utcnow
from festival.errors import FestivalError
from festival.models import Festival
from tickets import checkin, issuing, signing
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


async def sync(
    session: AsyncSession, principal: Principal, slug: str, scans: list[Any]
) -> list[SyncResult]:
    """Record scans a device made offline; one result per scan, in order.

    Scans are applied in the order they happened, so the earliest scan of a
    ticket wins even against a later online check-in. A scan already synced (the
    same device, payload and time) answers with its first result, so sending a
    batch again changes nothing. Each scan runs in its own savepoint: a bad one
    is answered as :class:`NotAScan` and the others go on.
    """
    festival = await checkin.door_festival(session, principal, slug)
    results: list[SyncResult | None] = [None] * len(scans)
    valid: list[tuple[int, OfflineScan]] = []
    for index, raw in enumerate(scans):
        try:
            valid.append((index, OfflineScan.model_validate(raw)))
        except ValidationError as exc:
            results[index] = _not_a_scan(index, exc)
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
