"""Statements of the core, and what a principal may see of festivals."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Select, false, or_, select, true

from festival.auth import Principal
from festival.models import Festival
from festival.roles import Permission


def team_festivals(principal: Principal, permission: Permission) -> ColumnElement[bool]:
    """Festivals whose team gives this organiser ``permission`` (owners: all of them)."""
    if not principal.is_organiser or principal.account_id is None:
        return false()
    granted = principal.festivals_with(permission)
    owned = Festival.owner_id == principal.account_id
    return or_(owned, Festival.id.in_(granted)) if granted else owned


def visible_festivals(principal: Principal | None) -> ColumnElement[bool]:
    """Published festivals, plus the organiser's (any role) and the festival a token is for."""
    if principal is None:
        return Festival.published_at.is_not(None)
    own: ColumnElement[bool] = false()
    if principal.is_organiser and principal.account_id is not None:
        own = team_festivals(principal, Permission.READ)
    elif principal.festival_id is not None:
        own = Festival.id == principal.festival_id
    return or_(Festival.published_at.is_not(None), own)


def sees_festival(
    principal: Principal,
    festival_id: uuid.UUID,
    published_at: datetime | None,
    owner_id: uuid.UUID | None,
) -> bool:
    """:func:`visible_festivals` for one festival already read (the door reads it
    in the same statement as the scanner's token)."""
    if published_at is not None:
        return True
    if principal.is_organiser and principal.account_id is not None:
        return principal.may(Permission.READ, festival_id, owner_id)
    return principal.festival_id is not None and festival_id == principal.festival_id


def managed_festivals(
    principal: Principal | None, permission: Permission = Permission.FESTIVAL
) -> ColumnElement[bool]:
    """Festivals where this organiser's role grants ``permission``; nothing for others."""
    if principal is None:
        return false()
    return team_festivals(principal, permission)


def festival_by_slug(slug: str, condition: ColumnElement[bool] | None = None) -> Select[Festival]:
    return select(Festival).where(Festival.slug == slug, true() if condition is None else condition)
