"""Use cases of festivals: create, update, publish, list and find."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.db import utcnow
from festival.errors import Conflict, Forbidden, Invalid, NotFound
from festival.models import Festival, FestivalMember
from festival.pagination import keyset_page
from festival.queries import festival_by_slug, managed_festivals, visible_festivals
from festival.roles import Permission
from festival.schemas import FestivalCreate, FestivalUpdate, check_length


async def create_festival(
    session: AsyncSession, principal: Principal, data: FestivalCreate
) -> Festival:
    if not principal.is_organiser or principal.account_id is None:
        raise Forbidden("Only organisers create festivals")
    if await session.scalar(select(Festival.id).where(Festival.slug == data.slug)):
        raise Conflict(f"The slug {data.slug!r} is taken", field="slug")
    festival = Festival(
        id=uuid.uuid4(),
        owner_id=principal.account_id,
        settings={},
        terms_version=terms_version(data.terms),
        **data.model_dump(),
    )
    session.add(festival)
    await session.flush()
    # The creator is the team's first owner (Festival.owner_id says so too).
    session.add(
        FestivalMember(
            id=uuid.uuid4(), festival_id=festival.id, account_id=principal.account_id, role="owner"
        )
    )
    await session.flush()
    return festival


def terms_version(terms: str | None) -> str | None:
    """The version of a terms text: its digest, so a changed text is a new version
    (and attendees are asked again) while saving the same text changes nothing."""
    if not terms:
        return None
    return hashlib.sha256(terms.encode()).hexdigest()[:16]


async def get_festival(session: AsyncSession, principal: Principal | None, slug: str) -> Festival:
    """A festival the principal may see; anything else is ``NotFound``."""
    festival = await session.scalar(festival_by_slug(slug, visible_festivals(principal)))
    if festival is None:
        raise NotFound(f"No festival {slug!r}")
    return festival


async def get_managed_festival(
    session: AsyncSession,
    principal: Principal,
    slug: str,
    permission: Permission = Permission.FESTIVAL,
) -> Festival:
    """A festival where the principal's role grants ``permission`` (:mod:`festival.roles`).

    Someone else's festival is ``NotFound``, not ``Forbidden``. A token that may
    see the festival but not do this (staff, an attendee, a team member whose
    role does not grant it) gets ``Forbidden``, since it knows the festival exists.
    """
    festival = await session.scalar(
        festival_by_slug(slug, managed_festivals(principal, permission))
    )
    if festival is not None:
        return festival
    found = await get_festival(session, principal, slug)
    if principal.role_at(found.id, found.owner_id) is not None:
        raise Forbidden(f"Your role in this festival's team does not allow this ({permission})")
    if principal.is_organiser:
        raise NotFound(f"No festival {slug!r}")
    raise Forbidden("Only the festival's organisers may do this")


async def update_festival(
    session: AsyncSession, principal: Principal, slug: str, data: FestivalUpdate
) -> Festival:
    festival = await get_managed_festival(session, principal, slug)
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name in {
            "name",
            "timezone",
            "starts_on",
            "ends_on",
            "mode",
            "capacity",
            "confirm_email",
            "confirm_hold_minutes",
            "waitlisted_live",
            "reminder_minutes",
            "retention_days",
        }:
            raise Invalid(f"{name} cannot be null", field=name)
        setattr(festival, name, value)
    if "terms" in changes:
        festival.terms_version = terms_version(festival.terms)
    try:
        check_length(festival.starts_on, festival.ends_on)
    except ValueError as exc:
        raise Invalid(str(exc), field="ends_on") from None
    opens, closes = festival.registration_opens_at, festival.registration_closes_at
    if opens and closes and closes <= opens:
        raise Invalid("registration closes before it opens", field="registration_closes_at")
    await session.flush()
    return festival


async def publish_festival(session: AsyncSession, principal: Principal, slug: str) -> Festival:
    """Publish the festival (and so its programme). Publishing twice changes nothing."""
    festival = await get_managed_festival(session, principal, slug)
    if festival.published_at is None:
        festival.published_at = utcnow()
        await session.flush()
    return festival


async def list_festivals(
    session: AsyncSession, principal: Principal | None, *, limit: int, cursor: str | None
) -> tuple[Sequence[Festival], str | None]:
    stmt = select(Festival).where(visible_festivals(principal))
    return await keyset_page(session, stmt, Festival.slug, Festival.id, limit=limit, cursor=cursor)
