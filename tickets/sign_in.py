"""Sign-in by e-mailed link: an attendee's way in on another device, or back in.

Asking (:func:`send_link`) tells nobody whether an address is registered: the
edge answers the same ``202`` at once and does the asking after the reply is
sent, so neither the body nor the time it took says anything. A registered
address (confirmed or waitlisted) gets a one-time link, valid
:data:`VALID`; a pending one (``confirm_email``) its confirmation link again;
any other address nothing. Following the link (:func:`sign_in`) mints an
attendee token and a feed token for that device. The attendee sees their
devices (:func:`devices`) and ends any of them (:func:`end_device`).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from festival.auth import Principal, new_token
from festival.db import utcnow
from festival.errors import NotFound
from festival.models import Festival, Token
from tickets import codes, confirmation, letters, outbox, queries
from tickets.errors import LinkExpired
from tickets.models import Registration
from tickets.schemas import AttendeeDevice, SignedIn

log = logging.getLogger(__name__)
PURPOSE = "sign_in"
VALID = timedelta(minutes=30)
SENT = (
    "If this address is registered for the festival, a sign-in link is on its way. "
    "It works once, within 30 minutes."
)
DEFAULT_DEVICE = "Signed in by e-mailed link"


async def festival_of(session: AsyncSession, slug: str) -> Festival:
    """The published festival ``slug``: asking for a link to anything else is ``NotFound``."""
    found = await session.scalar(
        select(Festival).where(Festival.slug == slug, Festival.published_at.is_not(None))
    )
    if found is None:
        raise NotFound(f"No festival {slug!r}")
    return found


async def send_link(
    sessionmaker: async_sessionmaker[AsyncSession],
    festival_id: uuid.UUID,
    email: str,
    *,
    base_url: str,
    may_write: confirmation.MayWrite,
) -> None:
    """Write the letter ``email`` should get, if any (see the module). Run after the
    reply, in a unit of work of its own; a failure is logged, never shown."""
    email = email.strip().lower()
    try:
        async with sessionmaker() as session, session.begin():
            festival = await session.get_one(Festival, festival_id)
            found = await session.scalar(
                select(Registration).where(
                    Registration.festival_id == festival_id,
                    Registration.email == email,
                    Registration.status != "cancelled",
                )
            )
            if found is None or not await may_write(email):
                return
            now = utcnow()
            if found.status == "pending":
                link = confirmation.link_maker(base_url, festival.slug)
                await confirmation.remind(session, festival, found, now, link)
                return
            code = await codes.make(
                session,
                festival_id=festival_id,
                registration_id=found.id,
                purpose=PURPOSE,
                expires_at=now + VALID,
                now=now,
            )
            page = f"{base_url.rstrip('/')}/f/{quote(festival.slug)}/me#code={code}"
            row = letters.letter(
                festival.name, found.name, email, "sign_in", None, festival.id, found.id, link=page
            )
            await outbox.post(session, row)
        await outbox.wake_senders()
    except Exception:
        log.exception("a sign-in link was not written")


async def sign_in(session: AsyncSession, code: str, device: str | None, now: datetime) -> SignedIn:
    """Redeem a sign-in code: new tokens for this device. ``LinkExpired`` for a used,
    expired or unknown code, or a registration that is cancelled since."""
    registration_id = await codes.redeem(session, code, PURPOSE, now)
    registration = await session.get(Registration, registration_id)
    if registration is None or registration.status not in ("confirmed", "waitlisted"):
        raise LinkExpired("This registration is no longer active")
    tokens = [
        new_token(
            kind,
            festival_id=registration.festival_id,
            subject_id=registration.id,
            label=registration.name,  # the live Q&A's author name, as at registration
        )
        for kind in ("attendee", "feed")
    ]
    rows = [row for row, _ in tokens]
    rows[0]["device"] = (device or "").strip()[:200] or DEFAULT_DEVICE
    rows[1]["created_at"] = rows[0]["created_at"]  # one device: ended together
    await session.execute(queries.INSERT_TOKENS, rows)
    return SignedIn(attendee_token=tokens[0][1], feed_token=tokens[1][1])


def _devices_of(principal: Principal) -> ColumnElement[bool]:
    return and_(
        Token.kind == "attendee",
        Token.subject_id == principal.subject_id,
        Token.festival_id == principal.festival_id,
        Token.revoked_at.is_(None),
    )


async def devices(session: AsyncSession, principal: Principal) -> list[AttendeeDevice]:
    """The attendee's devices: each attendee token that still works, oldest first."""
    rows = await session.execute(
        select(Token.id, Token.device, Token.created_at)
        .where(_devices_of(principal))
        .order_by(Token.created_at)
    )
    return [
        AttendeeDevice(
            id=token_id,
            label=device or "The device you registered with",
            created_at=created_at,
            current=token_id == principal.token_id,
        )
        for token_id, device, created_at in rows
    ]


async def end_device(session: AsyncSession, principal: Principal, token_id: uuid.UUID) -> None:
    """Revoke one of the attendee's devices: its attendee token and the feed token
    made with it. Another's device, or one ended already, is ``NotFound``."""
    now = utcnow()
    ended: datetime | None = await session.scalar(
        update(Token)
        .where(Token.id == token_id, _devices_of(principal))
        .values(revoked_at=now)
        .returning(Token.created_at)
        .execution_options(synchronize_session=False)
    )
    if ended is None:
        raise NotFound(f"No device {token_id} of yours")
    await session.execute(
        update(Token)
        .where(
            and_(
                Token.kind == "feed",
                Token.subject_id == principal.subject_id,
                Token.created_at == ended,
                Token.revoked_at.is_(None),
            )
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
