"""The letters of organiser accounts: an invitation to a festival's team
(:mod:`festival.members`) and a password reset link (:mod:`festival.passwords`).

The core announces the invitation; this writes its letter to the outbox in the
same unit of work, so the letter exists if and only if the invitation does.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from festival.events import subscribe
from festival.members import InvitationMade
from festival.passwords import ResetAsked
from tickets import outbox

ROLE_WORDS = {
    "owner": "an owner (everything, the team included)",
    "editor": "an editor (the programme and the live sessions' questions and polls)",
    "registrations": "a registrations manager (attendees, check-in lists, exports)",
    "viewer": "a viewer (reads the festival and its programme)",
}


async def _write(session: AsyncSession, event: InvitationMade) -> None:
    body = (
        f"Hello,\n\n{event.invited_by} invites you to the team of {event.festival_name}, "
        f"as {ROLE_WORDS.get(event.role, event.role)}.\n\n"
        f"To accept, open this link and choose your password (if this address has a "
        f"Festival account already, give its password instead):\n\n{event.link}\n\n"
        f"The link works once, until {event.expires_at:%Y-%m-%d %H:%M} UTC. "
        "If you did not expect this, ignore this e-mail.\n"
    )
    row = outbox.message(
        festival_id=event.festival_id,
        registration_id=None,
        kind="team.invitation",
        to=event.email,
        subject=f"Join the team of {event.festival_name}",
        body=body,
    )
    await outbox.post(session, row)


async def _reset(session: AsyncSession, event: ResetAsked) -> None:
    body = (
        f"Hello {event.name or ''},\n\nSomeone, we hope you, asked to set a new password for "
        f"the Festival organiser account of this address. To choose one, open this link:"
        f"\n\n{event.link}\n\nIt works once, until {event.expires_at:%Y-%m-%d %H:%M} UTC, and "
        "signs out every other device of the account. If it was not you, ignore this e-mail: "
        "your password stays as it is.\n"
    )
    row = outbox.message(
        festival_id=None,
        registration_id=None,
        kind="account.password_reset",
        to=event.email,
        subject="Set your Festival password",
        body=body,
    )
    await outbox.post(session, row)


def install() -> None:
    """Write invitation and password letters from now on (idempotent; every serving
    process calls it)."""
    subscribe(InvitationMade, _write)
    subscribe(ResetAsked, _reset)
