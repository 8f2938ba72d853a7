"""Festival signing keys and tickets: issue, reissue, revoke, render the payload."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from festival import effects
from festival.db import utcnow
from tickets import queries, signing
from tickets.models import Registration, Ticket, Ticketing
from tickets.schemas import TicketRead

# A festival's key pair never changes once committed, so every process may keep it.
_keys: dict[uuid.UUID, tuple[bytes, bytes]] = {}


async def ensure_ticketing(session: AsyncSession, festival_id: uuid.UUID) -> None:
    """Make the festival's counter row and key pair unless they exist.

    Two first registrations racing both try to insert; one insert is ignored and
    its freshly made key is thrown away, so there is only ever one key.
    """
    if festival_id in _keys:
        return
    private, public = signing.new_keypair()
    await queries.insert_ignoring_conflict(
        session,
        Ticketing,
        festival_id=festival_id,
        waitlist_seq=0,
        bundle_version=1,
        private_key=private,
        public_key=public,
        created_at=utcnow(),
    )


def has_keys(festival_id: uuid.UUID) -> bool:
    """Whether this process holds the festival's keys already (no database needed)."""
    return festival_id in _keys


def known_public_key(festival_id: uuid.UUID) -> bytes | None:
    """The festival's public key if this process holds it already (no database needed)."""
    found = _keys.get(festival_id)
    return None if found is None else found[1]


async def festival_keys(session: AsyncSession, festival_id: uuid.UUID) -> tuple[bytes, bytes]:
    """(private, public) key of a festival, made on first use."""
    found = _keys.get(festival_id)
    if found is not None:
        return found
    await ensure_ticketing(session, festival_id)
    row = (
        await session.execute(
            select(Ticketing.private_key, Ticketing.public_key).where(
                Ticketing.festival_id == festival_id
            )
        )
    ).one()
    keys = (bytes(row[0]), bytes(row[1]))

    async def _remember() -> None:
        _keys[festival_id] = keys

    # Cached only once committed: a key pair made by a transaction that then
    # rolls back must not sign tickets nobody can verify.
    effects.defer(session, _remember)
    return keys


async def public_key_of(session: AsyncSession, festival_id: uuid.UUID) -> bytes | None:
    """The public key of a festival that has one (None for unknown festivals)."""
    found = _keys.get(festival_id)
    if found is not None:
        return found[1]
    raw = await session.scalar(
        select(Ticketing.public_key).where(Ticketing.festival_id == festival_id)
    )
    return None if raw is None else bytes(raw)


def new_ticket(session: AsyncSession, registration: Registration) -> Ticket:
    """The ticket of a newly confirmed registration, written at the next flush
    (one per registration: a unique key)."""
    ticket = Ticket(
        id=uuid.uuid4(),
        registration_id=registration.id,
        festival_id=registration.festival_id,
        version=1,
    )
    session.add(ticket)
    return ticket


async def issue_ticket(session: AsyncSession, registration: Registration) -> Ticket:
    ticket = new_ticket(session, registration)
    await session.flush()
    return ticket


async def payload(session: AsyncSession, ticket: Ticket) -> str:
    """The QR payload text of the ticket's current version."""
    return await signed_payload(session, ticket.festival_id, ticket.id, ticket.version)


async def signed_payload(
    session: AsyncSession, festival_id: uuid.UUID, ticket_id: uuid.UUID, version: int
) -> str:
    """The QR payload text of a ticket version, signed with its festival's key."""
    private, _ = await festival_keys(session, festival_id)
    return signing.sign(private, ticket_id, festival_id, version)


async def ticket_read(session: AsyncSession, ticket: Ticket) -> TicketRead:
    return TicketRead(id=ticket.id, qr=await payload(session, ticket), version=ticket.version)


async def revoke_ticket(session: AsyncSession, registration_id: uuid.UUID) -> None:
    ticket = await session.scalar(queries.ticket_of(registration_id))
    if ticket is not None and ticket.revoked_at is None:
        ticket.revoked_at = utcnow()
        await queries.bump_bundle_version(session, ticket.festival_id)
        await session.flush()


async def reissue_ticket(session: AsyncSession, ticket: Ticket) -> Ticket:
    """A new version of the ticket: every earlier payload becomes ``revoked``."""
    ticket.version += 1
    await queries.bump_bundle_version(session, ticket.festival_id)
    await session.flush()
    return ticket
