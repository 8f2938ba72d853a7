"""One-time codes sent in e-mailed links: made, kept only as a hash, redeemed once.

A code is 256 random bits (``fc_…``), so its SHA-256 is all the database keeps
(as with tokens, :func:`festival.auth.hash_token`): a copy of the database holds
no link that works. Redeeming is one conditional update, so two clicks on the
same link (two tabs, a mail scanner and the person) redeem it once.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import hash_token
from tickets.errors import LinkExpired
from tickets.models import AccessCode

PREFIX = "fc_"


async def make(
    session: AsyncSession,
    *,
    festival_id: uuid.UUID,
    registration_id: uuid.UUID,
    purpose: str,
    expires_at: datetime,
    now: datetime,
) -> str:
    """A new code for ``purpose``, valid until ``expires_at``; the secret is returned only."""
    code = f"{PREFIX}{secrets.token_urlsafe(32)}"
    await session.execute(
        insert(AccessCode).values(
            id=uuid.uuid4(),
            festival_id=festival_id,
            registration_id=registration_id,
            purpose=purpose,
            code_hash=hash_token(code),
            expires_at=expires_at,
            used_at=None,
            created_at=now,
        )
    )
    return code


async def redeem(session: AsyncSession, code: str, purpose: str, now: datetime) -> uuid.UUID:
    """Use ``code`` once; the registration it names. ``LinkExpired`` when it is
    unknown, for another purpose, used or past its time (one answer for all, so
    a guesser learns nothing)."""
    redeemed = await session.scalar(
        update(AccessCode)
        .where(
            AccessCode.code_hash == hash_token(code),
            AccessCode.purpose == purpose,
            AccessCode.used_at.is_(None),
            AccessCode.expires_at > now,
        )
        .values(used_at=now)
        .returning(AccessCode.registration_id)
        .execution_options(synchronize_session=False)
    )
    if redeemed is None:
        raise LinkExpired("This link was used or has expired: ask for a new one")
    return redeemed
