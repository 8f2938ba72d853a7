"""Scanner devices: a check-in token registers its scanners, and syncs only as one.

A device's id is the server's (a UUID it hands out), so an offline scan names a
device that exists, belongs to the token that syncs it, and was not revoked by
the organiser; anything else refuses the whole sync (:class:`DeviceNotRegistered`),
before a scan is recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, false, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.db import utcnow
from festival.errors import NotFound
from festival.models import Festival
from festival.queries import team_festivals
from festival.roles import Permission
from festival.service import get_managed_festival
from tickets import checkin
from tickets.errors import DeviceNotRegistered
from tickets.models import CheckinDevice

REGISTER_PATH = "/api/v1/festivals/{slug}/devices"


def visible_devices(principal: Principal) -> ColumnElement[bool]:
    """The organiser sees the devices of their festivals; a check-in token its own."""
    if principal.is_organiser and principal.account_id is not None:
        teams = select(Festival.id).where(team_festivals(principal, Permission.CHECKIN))
        return CheckinDevice.festival_id.in_(teams.scalar_subquery())
    if principal.kind == "staff" and principal.role == "checkin":
        return CheckinDevice.staff_token_id == principal.token_id
    return false()


async def register(
    session: AsyncSession, principal: Principal, slug: str, name: str
) -> CheckinDevice:
    """Register a scanner for the check-in token ``principal``; its id is what a sync names."""
    festival = await checkin.door_festival(session, principal, slug)
    device = CheckinDevice(
        id=uuid.uuid4(),
        festival_id=festival.id,
        staff_token_id=principal.token_id,
        name=name,
        created_at=utcnow(),
        revoked_at=None,
    )
    session.add(device)
    await session.flush()
    return device


async def listed(session: AsyncSession, principal: Principal, slug: str) -> Sequence[CheckinDevice]:
    """A festival's devices, oldest first: all for its organiser, its own for a check-in token."""
    if principal.is_organiser:
        festival = await get_managed_festival(session, principal, slug, Permission.CHECKIN)
    else:
        festival = await checkin.door_festival(session, principal, slug)
    rows = await session.scalars(
        select(CheckinDevice)
        .where(CheckinDevice.festival_id == festival.id, visible_devices(principal))
        .order_by(CheckinDevice.created_at, CheckinDevice.id)
    )
    return rows.all()


async def revoke(
    session: AsyncSession, principal: Principal, slug: str, device_id: uuid.UUID
) -> None:
    """The organiser revokes a device: its scans are refused from now on (idempotent)."""
    festival = await get_managed_festival(session, principal, slug, Permission.CHECKIN)
    found = await session.get(CheckinDevice, device_id)
    if found is None or found.festival_id != festival.id:
        raise NotFound("No such device", field="device_id")
    await session.execute(
        update(CheckinDevice)
        .where(CheckinDevice.id == device_id, CheckinDevice.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def ensure_registered(
    session: AsyncSession, principal: Principal, festival: Festival, named: Iterable[str]
) -> None:
    """Each device id in ``named`` is a live device of ``principal``'s at ``festival``.

    Else :class:`DeviceNotRegistered` naming the first that is not, and where to
    register one: free-text ids of older clients land here too.
    """
    wanted = sorted(set(named))
    ids: dict[str, uuid.UUID] = {}
    for raw in wanted:
        try:
            ids[raw] = uuid.UUID(raw)
        except ValueError:
            raise _unregistered(festival.slug, raw) from None
    if not ids:
        return
    mine = set(
        await session.scalars(
            select(CheckinDevice.id).where(
                CheckinDevice.id.in_(list(ids.values())),
                CheckinDevice.festival_id == festival.id,
                CheckinDevice.staff_token_id == principal.token_id,
                CheckinDevice.revoked_at.is_(None),
            )
        )
    )
    for raw in wanted:
        if ids[raw] not in mine:
            raise _unregistered(festival.slug, raw)


def _unregistered(slug: str, device_id: str) -> DeviceNotRegistered:
    path = REGISTER_PATH.format(slug=slug)
    return DeviceNotRegistered(
        f"Device {device_id!r} is not a scanner this token registered, or it was revoked: "
        f"register it with POST {path} and sync with the id it returns",
        field="device_id",
        device_id=device_id,
        register_at=path,
    )
