"""A festival's team: invitations by e-mail, roles, and the last owner who stays.

Organisers sign up only by invitation (or ``festival create-organiser``): there
is no open sign-up, because an organiser account reads attendees' personal
data, so somebody who answers for the festival vouches for every account.

An invitation is e-mailed as a one-time link (the code in the fragment, its
SHA-256 alone kept); following it creates the account and sets its password,
or, for an e-mail that has an account already, asks for that account's
password, and adds the role. The letter itself is written by whoever listens to
:class:`InvitationMade` (``tickets`` puts it in its outbox): the core sends no mail.

A festival always keeps an owner: removing or demoting the last one is
``LastOwner``. ``Festival.owner_id`` is the first owner and always an owner;
when that account leaves the owners, the next owner takes its place.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import (
    ORGANISER_TOKEN_TTL,
    Principal,
    hash_password,
    hash_token,
    issue_token,
    verify_password,
)
from festival.db import utcnow
from festival.errors import Conflict, Gone, NotFound, Unauthorized
from festival.events import announce
from festival.models import Account, Festival, FestivalMember, Invitation
from festival.roles import Permission
from festival.schemas import InvitationAccepted, MemberInvite, MemberRead
from festival.service import get_managed_festival

INVITATION_TTL = timedelta(days=7)


class LastOwner(Conflict):
    code = "last_owner"
    title = "A festival keeps an owner"


@dataclass(frozen=True)
class InvitationMade:
    """Announced in the unit of work that invites: write the letter with ``link``."""

    festival_id: uuid.UUID
    festival_name: str
    email: str
    role: str
    link: str
    invited_by: str
    expires_at: datetime


def join_link(base_url: str, code: str) -> str:
    """The page that accepts an invitation, the code in the fragment (never sent to a server)."""
    return f"{base_url.rstrip('/')}/join#code={code}"


async def invite(
    session: AsyncSession, principal: Principal, slug: str, data: MemberInvite, *, base_url: str
) -> MemberRead:
    """Invite ``data.email`` to the festival's team as ``data.role`` (owners only)."""
    festival = await get_managed_festival(session, principal, slug, Permission.FESTIVAL)
    email = data.email.strip().lower()
    member = await session.scalar(
        select(FestivalMember.id)
        .join(Account, Account.id == FestivalMember.account_id)
        .where(FestivalMember.festival_id == festival.id, Account.email == email)
    )
    if member is not None or await _owner_email(session, festival) == email:
        raise Conflict(f"{email} is in this festival's team already", field="email")
    code = f"fi_{secrets.token_urlsafe(32)}"
    invitation = Invitation(
        id=uuid.uuid4(),
        festival_id=festival.id,
        email=email,
        role=data.role,
        code_hash=hash_token(code),
        invited_by=principal.account_id,
        expires_at=utcnow() + INVITATION_TTL,
        accepted_at=None,
    )
    session.add(invitation)
    await session.flush()
    inviter = await session.get(Account, principal.account_id) if principal.account_id else None
    await announce(
        session,
        InvitationMade(
            festival.id,
            festival.name,
            email,
            data.role,
            join_link(base_url, code),
            (inviter.name or inviter.email) if inviter is not None else "An organiser",
            invitation.expires_at,
        ),
    )
    return _invited(invitation)


async def accept(
    session: AsyncSession, code: str, password: str, name: str | None
) -> InvitationAccepted:
    """Follow an invitation: the account (made now, or proved by its password) joins the
    team, and gets an organiser token. A used, expired or unknown code is ``Gone``."""
    now = utcnow()
    claimed = await session.execute(
        update(Invitation)
        .where(
            Invitation.code_hash == hash_token(code),
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(accepted_at=now)
        .returning(Invitation.festival_id, Invitation.email, Invitation.role)
    )
    row = claimed.first()
    if row is None:
        raise Gone(
            "This invitation was used or has expired: ask for a new one", code="link_expired"
        )
    festival_id, email, role = row
    account = await session.scalar(select(Account).where(Account.email == email))
    if account is None:
        account = Account(
            id=uuid.uuid4(), email=email, password_hash=await hash_password(password), name=name
        )
        session.add(account)
        await session.flush()
    elif not await verify_password(account.password_hash, password):
        raise Unauthorized("This e-mail has an account: give its password to accept")
    member = await session.scalar(
        select(FestivalMember).where(
            FestivalMember.festival_id == festival_id, FestivalMember.account_id == account.id
        )
    )
    if member is None:
        session.add(
            FestivalMember(
                id=uuid.uuid4(), festival_id=festival_id, account_id=account.id, role=role
            )
        )
    elif member.role == "owner":
        role = "owner"  # an invitation never demotes an owner
    else:
        member.role = role
    _, raw = await issue_token(
        session, "organiser", account_id=account.id, expires_at=now + ORGANISER_TOKEN_TTL
    )
    slug = await session.scalar(select(Festival.slug).where(Festival.id == festival_id))
    return InvitationAccepted(access_token=raw, festival=slug or "", role=role)


async def team(session: AsyncSession, principal: Principal, slug: str) -> list[MemberRead]:
    """The festival's members (oldest first), then its open invitations (owners only)."""
    festival = await get_managed_festival(session, principal, slug, Permission.FESTIVAL)
    await _ensure_first_owner(session, festival)
    members = await session.execute(
        select(FestivalMember, Account.email, Account.name)
        .join(Account, Account.id == FestivalMember.account_id)
        .where(FestivalMember.festival_id == festival.id)
        .order_by(FestivalMember.created_at, FestivalMember.id)
    )
    invitations = await session.scalars(
        select(Invitation)
        .where(
            Invitation.festival_id == festival.id,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.created_at, Invitation.id)
    )
    return [
        *(
            MemberRead(
                id=m.id,
                email=email,
                name=name,
                role=m.role,
                status="active",
                created_at=m.created_at,
            )
            for m, email, name in members.all()
        ),
        *(_invited(i) for i in invitations.all()),
    ]


async def change_role(
    session: AsyncSession, principal: Principal, slug: str, member_id: uuid.UUID, role: str
) -> MemberRead:
    """Give a member another role; the last owner cannot step down (``LastOwner``)."""
    festival, member = await _member(session, principal, slug, member_id)
    if member.role == "owner" and role != "owner":
        await _keep_an_owner(session, festival, member)
    member.role = role
    await session.flush()
    account = await session.get_one(Account, member.account_id)
    return MemberRead(
        id=member.id,
        email=account.email,
        name=account.name,
        role=role,
        status="active",
        created_at=member.created_at,
    )


async def remove(
    session: AsyncSession, principal: Principal, slug: str, member_id: uuid.UUID
) -> None:
    """Take a member off the team, or withdraw an invitation; never the last owner."""
    festival = await get_managed_festival(session, principal, slug, Permission.FESTIVAL)
    invitation = await session.get(Invitation, member_id)
    if invitation is not None and invitation.festival_id == festival.id:
        if invitation.accepted_at is None:
            await session.delete(invitation)
            await session.flush()
        return
    festival, member = await _member(session, principal, slug, member_id)
    if member.role == "owner":
        await _keep_an_owner(session, festival, member)
    await session.delete(member)
    await session.flush()


async def _member(
    session: AsyncSession, principal: Principal, slug: str, member_id: uuid.UUID
) -> tuple[Festival, FestivalMember]:
    festival = await get_managed_festival(session, principal, slug, Permission.FESTIVAL)
    # One change of the team at a time (PostgreSQL; SQLite has one writer anyway),
    # so two owners demoting each other cannot leave none.
    await session.execute(select(Festival.id).where(Festival.id == festival.id).with_for_update())
    await _ensure_first_owner(session, festival)
    member = await session.get(FestivalMember, member_id)
    if member is None or member.festival_id != festival.id:
        raise NotFound("No such member of this festival's team", field="member_id")
    return festival, member


async def _keep_an_owner(
    session: AsyncSession, festival: Festival, leaving: FestivalMember
) -> None:
    """Refuse to let the last owner go; hand ``owner_id`` on when its account leaves."""
    others = (
        await session.scalars(
            select(FestivalMember.account_id)
            .where(
                FestivalMember.festival_id == festival.id,
                FestivalMember.role == "owner",
                FestivalMember.id != leaving.id,
            )
            .order_by(FestivalMember.created_at, FestivalMember.id)
        )
    ).all()
    if not others:
        raise LastOwner("A festival needs an owner: make someone else owner first")
    if festival.owner_id == leaving.account_id:
        festival.owner_id = others[0]


async def _ensure_first_owner(session: AsyncSession, festival: Festival) -> None:
    """``owner_id``'s member row, for festivals made before teams (or by tools)."""
    found = await session.scalar(
        select(FestivalMember.id).where(
            FestivalMember.festival_id == festival.id,
            FestivalMember.account_id == festival.owner_id,
        )
    )
    if found is None:
        session.add(
            FestivalMember(
                id=uuid.uuid4(),
                festival_id=festival.id,
                account_id=festival.owner_id,
                role="owner",
            )
        )
        await session.flush()


async def _owner_email(session: AsyncSession, festival: Festival) -> str | None:
    return await session.scalar(select(Account.email).where(Account.id == festival.owner_id))


def _invited(invitation: Invitation) -> MemberRead:
    return MemberRead(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role,
        status="invited",
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )
