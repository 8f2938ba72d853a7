"""What an attendee agreed to: the festival's terms (by version), photos, contact.

Recorded with the registration when the form sends it (optional: older clients
register as before) and again whenever the attendee answers the ticket page's
question, which it asks while the recorded terms version is not the
festival's current one (a changed terms text is a new version).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.db import utcnow
from festival.errors import Invalid
from tickets import attendees
from tickets.schemas import ConsentGiven, ConsentRead


def columns(given: ConsentGiven | None, at: datetime) -> dict[str, Any]:
    """A registration row's consent columns for what the form sent (all None without)."""
    if given is None:
        return {
            "consent_terms_version": None,
            "consent_photo": None,
            "consent_contact": None,
            "consent_at": None,
        }
    return {
        "consent_terms_version": given.terms_version,
        "consent_photo": given.photo,
        "consent_contact": given.contact,
        "consent_at": at,
    }


async def read(session: AsyncSession, principal: Principal) -> ConsentRead:
    """The festival's current terms and what this attendee agreed to, if anything."""
    me = await attendees.attendee(session, principal)
    registration, festival = me.registration, me.festival
    return ConsentRead(
        terms=festival.terms,
        terms_version=festival.terms_version,
        agreed_terms_version=registration.consent_terms_version,
        photo=registration.consent_photo,
        contact=registration.consent_contact,
        at=registration.consent_at,
        asks_again=(
            registration.consent_at is None
            or registration.consent_terms_version != festival.terms_version
        ),
    )


async def record(session: AsyncSession, principal: Principal, given: ConsentGiven) -> ConsentRead:
    """Record the attendee's answer now; agreeing to terms that are not the current
    version is ``Invalid`` (the page shows them the text they agree to)."""
    me = await attendees.attendee(session, principal)
    if given.terms_version != me.festival.terms_version:
        raise Invalid(
            "These are not the festival's current terms: read them again",
            field="terms_version",
            current=me.festival.terms_version,
        )
    for name, value in columns(given, utcnow()).items():
        setattr(me.registration, name, value)
    await session.flush()
    return await read(session, principal)
