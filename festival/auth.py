"""Passwords, bearer tokens and the ``Principal`` a token resolves to."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import secrets
import sys
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Uuid, bindparam, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from festival.db import utcnow
from festival.errors import Forbidden, Unauthorized
from festival.limits import SIGN_IN_ACCOUNT, SIGN_IN_ADDRESS, Limiter, address_key
from festival.models import Account, FestivalMember, Token
from festival.roles import Permission, allows

_hasher = PasswordHasher()
# Argon2 is slow on purpose (~0.1 s of CPU in four threads of its own per call), so
# it never runs on the event loop, where door scans and live sockets wait. At
# most ARGON2_THREADS calls run at once (more only queue: sign-ins are rare, and
# the limits cap guessing), and their threads run at a lower priority (on Linux,
# ARGON2_NICE steps nicer than the process, inherited by Argon2's own threads):
# under load, the loop's thread gets the CPU first, and a burst of guesses slows
# the guesses, not the doors.
ARGON2_THREADS = 2
ARGON2_NICE = 10
ORGANISER_TOKEN_TTL = timedelta(days=30)
# Token prefixes tell a human which kind of secret they hold; they carry no authority.
_PREFIX = {"organiser": "fo", "staff": "fs", "attendee": "fa", "feed": "ff", "projector": "fp"}


def _lower_priority() -> None:
    if sys.platform == "linux":  # elsewhere PRIO_PROCESS would name a process, not a thread
        thread = threading.get_native_id()
        with contextlib.suppress(OSError):  # relative to the process's own (19 is the floor)
            nice = os.getpriority(os.PRIO_PROCESS, thread) + ARGON2_NICE
            os.setpriority(os.PRIO_PROCESS, thread, min(nice, 19))


def _new_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(ARGON2_THREADS, "argon2", initializer=_lower_priority)


_pool = _new_pool()


def _forked() -> None:
    global _pool
    _pool = _new_pool()  # the parent's threads do not exist in a forked child


os.register_at_fork(after_in_child=_forked)


async def hash_password(password: str) -> str:
    """An Argon2 hash of ``password``, computed off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_pool, _hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``, checked off the event loop.

    Without a hash (no such account) it is checked against a dummy hash, in the
    same time, and is never right.
    """
    return await asyncio.get_running_loop().run_in_executor(_pool, _verify, password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """A hash no password is known to match, with the parameters of real ones: an
    unknown e-mail's sign-in verifies against it, so it takes as long as a known one's."""
    return _hasher.hash(secrets.token_urlsafe(32))


async def prepare() -> None:
    """Make the dummy hash now (once per process), not during the first sign-in."""
    await asyncio.get_running_loop().run_in_executor(_pool, _dummy_hash)


def hash_token(raw: str) -> str:
    """Tokens are 256 random bits, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is acting, as a bearer token says."""

    kind: str
    token_id: uuid.UUID
    account_id: uuid.UUID | None = None
    festival_id: uuid.UUID | None = None
    role: str | None = None
    session_ids: frozenset[str] = field(default_factory=frozenset)
    subject_id: uuid.UUID | None = None
    label: str | None = None
    # An attendee token's registration status (confirmed or waitlisted; a
    # cancelled one never becomes a principal), read with the token itself.
    standing: str | None = None
    # An organiser's roles in festivals' teams: (festival id, role) pairs.
    teams: tuple[tuple[uuid.UUID, str], ...] = ()
    # An attendee token's digest for sealing anonymous questions (realtime.seals):
    # made from the secret itself, which is never stored, so no dump holds it.
    seal_key: bytes | None = field(default=None, repr=False)

    @property
    def is_organiser(self) -> bool:
        return self.kind == "organiser"

    def role_at(self, festival_id: uuid.UUID, owner_id: uuid.UUID | None = None) -> str | None:
        """This organiser's role in a festival's team (its ``owner_id`` is an owner)."""
        if not self.is_organiser or self.account_id is None:
            return None
        if owner_id is not None and owner_id == self.account_id:
            return "owner"
        return next((role for fid, role in self.teams if fid == festival_id), None)

    def may(
        self, permission: Permission, festival_id: uuid.UUID, owner_id: uuid.UUID | None = None
    ) -> bool:
        """Whether this organiser's role in the festival grants ``permission``."""
        return allows(self.role_at(festival_id, owner_id), permission)

    def festivals_with(self, permission: Permission) -> list[uuid.UUID]:
        """The festivals whose team gives this organiser ``permission`` (owner_id aside)."""
        return [fid for fid, role in self.teams if allows(role, permission)]

    def may_moderate(self, festival_id: uuid.UUID, session_id: uuid.UUID) -> bool:
        """Staff moderators of that festival, scoped to that session when scoped."""
        return (
            self.kind == "staff"
            and self.role == "moderator"
            and self.festival_id == festival_id
            and (not self.session_ids or str(session_id) in self.session_ids)
        )

    def may_check_in(self, festival_id: uuid.UUID) -> bool:
        return self.kind == "staff" and self.role == "checkin" and self.festival_id == festival_id


def new_secret(kind: str) -> str:
    return f"{_PREFIX[kind]}_{secrets.token_urlsafe(32)}"


def new_token(
    kind: str,
    *,
    account_id: uuid.UUID | None = None,
    festival_id: uuid.UUID | None = None,
    role: str | None = None,
    session_ids: list[str] | None = None,
    subject_id: uuid.UUID | None = None,
    label: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[dict[str, Any], str]:
    """The row of a new token, and its secret, which is never stored."""
    raw = new_secret(kind)
    row = {
        "id": uuid.uuid4(),
        "kind": kind,
        "token_hash": hash_token(raw),
        "account_id": account_id,
        "festival_id": festival_id,
        "role": role,
        "session_ids": session_ids,
        "subject_id": subject_id,
        "label": label,
        "device": None,
        "expires_at": expires_at,
        "revoked_at": None,
        "created_at": utcnow(),
    }
    return row, raw


async def issue_token(session: AsyncSession, kind: str, **fields: Any) -> tuple[Token, str]:
    """Create a token (see :func:`new_token` for the fields) and return it with its secret."""
    row, raw = new_token(kind, **fields)
    token = Token(**row)
    session.add(token)
    await session.flush()
    return token, raw


# The columns a principal is made of, in this order (also read by the check-in
# door, which fetches them in the same statement as the ticket it scans).
TOKEN_COLUMNS = (
    Token.id,
    Token.kind,
    Token.account_id,
    Token.festival_id,
    Token.role,
    Token.session_ids,
    Token.subject_id,
    Token.label,
    Token.revoked_at,
    Token.expires_at,
)
# The registrations table as far as a token needs it: its subject's status. A
# table clause, not the model, since the core knows nothing of the packages above.
_REGISTRATIONS = table("registrations", column("id", Uuid()), column("status"))
# Built once: every request resolves its token, so it should not rebuild the
# statement. An attendee token's registration status comes in the same read.
_TOKEN_BY_HASH = (
    select(*TOKEN_COLUMNS, _REGISTRATIONS.c.status)
    .select_from(Token)
    .outerjoin(_REGISTRATIONS, _REGISTRATIONS.c.id == Token.subject_id)
    .where(Token.token_hash == bindparam("token_hash"))
)


async def resolve_principal(session: AsyncSession, raw: str | None) -> Principal:
    """The principal of a live token, or ``Unauthorized``.

    Feed tokens are refused here: they may read a calendar feed and nothing else,
    which their own resolver (:func:`resolve_feed_token`) allows.
    """
    row = await _token_row(session, raw)
    principal = bearer_principal(row, row[len(TOKEN_COLUMNS)] if row is not None else None)
    if principal.is_organiser and principal.account_id is not None:
        teams = await session.execute(
            select(FestivalMember.festival_id, FestivalMember.role).where(
                FestivalMember.account_id == principal.account_id
            )
        )
        principal = replace(principal, teams=tuple((fid, role) for fid, role in teams.all()))
    elif principal.kind == "attendee" and raw:
        principal = replace(principal, seal_key=seal_key(raw))
    return principal


def seal_key(raw: str) -> bytes:
    """A digest of an attendee's secret, distinct from its stored hash (``hash_token``)."""
    return hashlib.sha256(b"festival-question-seal\x00" + raw.encode()).digest()


async def resolve_feed_token(session: AsyncSession, raw: str | None) -> Principal:
    principal = live_principal(await _token_row(session, raw))
    if principal.kind != "feed":
        raise Forbidden("Only a feed token opens a calendar feed")
    return principal


async def _token_row(session: AsyncSession, raw: str | None) -> Sequence[Any] | None:
    if not raw:
        raise Unauthorized("A bearer token is required")
    connection = await session.connection()
    result = await connection.execute(_TOKEN_BY_HASH, {"token_hash": hash_token(raw)})
    return result.first()


def bearer_principal(row: Sequence[Any] | None, standing: str | None = None) -> Principal:
    """The principal of a token row (``TOKEN_COLUMNS``) that may act as a bearer token
    (``standing``: the registration status of an attendee token's subject)."""
    principal = live_principal(row, standing)
    if principal.kind == "feed":
        raise Unauthorized("A calendar feed token cannot be used as a bearer token")
    return principal


def live_principal(row: Sequence[Any] | None, standing: str | None = None) -> Principal:
    """The principal of a token row (``TOKEN_COLUMNS``), unless unknown, revoked or
    expired, or an attendee's whose registration is cancelled (the right it stood for)."""
    if row is None or row[0] is None:
        raise Unauthorized("The token is unknown or revoked")
    (
        token_id,
        kind,
        account_id,
        festival_id,
        role,
        session_ids,
        subject_id,
        label,
        revoked_at,
        expires_at,
    ) = row[: len(TOKEN_COLUMNS)]
    if revoked_at is not None:
        raise Unauthorized("The token is unknown or revoked")
    if expires_at is not None and expires_at <= utcnow():
        raise Unauthorized("The token has expired")
    if kind == "attendee" and standing == "cancelled":
        raise Unauthorized("The registration of this token is cancelled")
    return Principal(
        kind=kind,
        token_id=token_id,
        account_id=account_id,
        festival_id=festival_id,
        role=role,
        session_ids=frozenset(session_ids or ()),
        subject_id=subject_id,
        label=label,
        standing=standing if kind == "attendee" else None,
    )


async def create_organiser(
    session: AsyncSession, email: str, password: str | None = None, name: str | None = None
) -> tuple[Account, str]:
    """Create an organiser account; return it with its (possibly generated) password."""
    from festival.errors import Conflict

    email = email.strip().lower()
    if await session.scalar(select(Account.id).where(Account.email == email)):
        raise Conflict(f"An organiser with e-mail {email} already exists", field="email")
    password = password or secrets.token_urlsafe(12)
    account = Account(
        id=uuid.uuid4(), email=email, password_hash=await hash_password(password), name=name
    )
    session.add(account)
    await session.flush()
    return account, password


async def sign_in(
    session: AsyncSession, email: str, password: str, *, limiter: Limiter, address: str
) -> str:
    """An organiser token for valid credentials; the same error for any mismatch.

    Failures are limited per account (``SIGN_IN_ACCOUNT``, the e-mail as looked
    up, whether or not it exists) and per client ``address`` (``SIGN_IN_ADDRESS``,
    whichever e-mails): each attempt counts until its password proves right,
    when it gives back its own two hits and nothing else, so a success never
    clears failures (its address's for other accounts included). Over either,
    :class:`festival.errors.TooManyRequests` before any lookup or hashing.

    An unknown e-mail is verified against a dummy hash, so both cost one lookup
    and one Argon2 verification: the time of a reply does not tell whether an
    organiser has that address. Not guaranteed: the time of a *right* password,
    which also writes a token.
    """
    email = email.strip().lower()
    hits = ((SIGN_IN_ACCOUNT, email), (SIGN_IN_ADDRESS, address_key(address)))
    await limiter.take("Too many failed sign-ins", *hits)
    account = await session.scalar(select(Account).where(Account.email == email))
    stored = account.password_hash if account is not None else None
    if not await verify_password(stored, password) or account is None:
        raise Unauthorized("E-mail or password is wrong")
    await limiter.undo(*hits)
    _, raw = await issue_token(
        session, "organiser", account_id=account.id, expires_at=utcnow() + ORGANISER_TOKEN_TTL
    )
    return raw


async def revoke_tokens_of(session: AsyncSession, subject_id: uuid.UUID, kind: str) -> None:
    from sqlalchemy import update

    await session.execute(
        update(Token)
        .where(Token.subject_id == subject_id, Token.kind == kind, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
