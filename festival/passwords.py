"""Organisers' passwords reset by an e-mailed link.

Asking is answered alike for every address (the reply tells nobody who has an
account); an address with an account gets a letter with a one-time link,
``/reset#code=fp_…`` (the code in the fragment; its SHA-256 alone is kept),
valid :data:`RESET_TTL`, at most one letter per :data:`BETWEEN` per account, so
the form cannot flood an inbox. Following the link sets the new password, ends
every organiser token of the account (whoever knew the old password is signed
out) and signs in. The letter is written by whoever listens to
:class:`ResetAsked` (``tickets.team_letters``): the core sends no mail.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import ORGANISER_TOKEN_TTL, hash_password, hash_token, issue_token
from festival.db import utcnow
from festival.errors import Gone
from festival.events import announce
from festival.models import Account, PasswordReset, Token

RESET_TTL = timedelta(minutes=30)
BETWEEN = timedelta(minutes=2)
ASKED = "If this address has an organiser account, a link to set its password is on its way."


@dataclass(frozen=True)
class ResetAsked:
    """Announced in the unit of work that asks: write the letter with ``link``."""

    email: str
    name: str | None
    link: str
    expires_at: datetime


def reset_link(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/reset#code={code}"


async def ask(session: AsyncSession, email: str, *, base_url: str) -> str:
    """Send ``email`` a reset link if it has an account; the same answer either way."""
    now = utcnow()
    account = await session.scalar(select(Account).where(Account.email == email.strip().lower()))
    if account is None:
        return ASKED
    recent = await session.scalar(
        select(PasswordReset.id).where(
            PasswordReset.account_id == account.id, PasswordReset.created_at > now - BETWEEN
        )
    )
    if recent is not None:
        return ASKED
    code = f"fp_{secrets.token_urlsafe(32)}"
    row = PasswordReset(
        id=uuid.uuid4(),
        account_id=account.id,
        code_hash=hash_token(code),
        expires_at=now + RESET_TTL,
        used_at=None,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    await announce(
        session, ResetAsked(account.email, account.name, reset_link(base_url, code), row.expires_at)
    )
    return ASKED


async def reset(session: AsyncSession, code: str, password: str) -> str:
    """Set the password of the link's account; its other organiser tokens end; a new one.

    A used, expired or unknown code is ``Gone``."""
    now = utcnow()
    claimed = await session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.code_hash == hash_token(code),
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(used_at=now)
        .returning(PasswordReset.account_id)
    )
    account_id = claimed.scalar()
    if account_id is None:
        raise Gone("This link was used or has expired: ask for another", code="link_expired")
    await session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(password_hash=await hash_password(password))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Token)
        .where(
            Token.account_id == account_id, Token.kind == "organiser", Token.revoked_at.is_(None)
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    _, raw = await issue_token(
        session, "organiser", account_id=account_id, expires_at=now + ORGANISER_TOKEN_TTL
    )
    return raw
