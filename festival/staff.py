"""Staff tokens: issued by organisers, scoped to one festival and maybe to sessions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal, issue_token
from festival.db import utcnow
from festival.errors import NotFound
from festival.models import Festival, Token
from festival.pagination import keyset_page
from festival.schemas import StaffTokenCreate
from festival.service import get_managed_festival


async def issue_staff_token(
    session: AsyncSession, principal: Principal, festival: Festival, data: StaffTokenCreate
) -> tuple[Token, str]:
    """A staff token for ``festival``, which the caller found with
    :func:`get_managed_festival`.

    ``data.session_ids`` are stored as given: sessions live in ``schedule``, which
    this package cannot see, so checking they are this festival's is the
    caller's part (:func:`schedule.staff.issue_staff_token`).
    """
    return await issue_token(
        session,
        "staff",
        account_id=principal.account_id,
        festival_id=festival.id,
        role=data.role,
        session_ids=[str(s) for s in data.session_ids] if data.session_ids else None,
        label=data.label or None,
        expires_at=data.expires_at,
    )


async def list_staff_tokens(
    session: AsyncSession, principal: Principal, slug: str, *, limit: int, cursor: str | None
) -> tuple[Sequence[Token], str | None]:
    """A page of the festival's staff tokens, oldest first (secrets are never stored)."""
    festival = await get_managed_festival(session, principal, slug)
    stmt = select(Token).where(Token.festival_id == festival.id, Token.kind == "staff")
    return await keyset_page(session, stmt, Token.created_at, Token.id, limit=limit, cursor=cursor)


async def revoke_staff_token(
    session: AsyncSession, principal: Principal, slug: str, token_id: uuid.UUID
) -> None:
    festival = await get_managed_festival(session, principal, slug)
    token = await session.scalar(
        select(Token).where(
            Token.id == token_id, Token.festival_id == festival.id, Token.kind == "staff"
        )
    )
    if token is None:
        raise NotFound("No such staff token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await session.flush()
