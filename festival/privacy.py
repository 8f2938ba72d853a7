"""Personal data: what Festival holds about people, why, and for how long (one place).

``PERSONAL`` lists every column that holds personal data, whose it is, why it
is kept and for how long; ``NOT_PERSONAL`` the columns whose names look
personal but are not, with the reason. A test (``tests/privacy``) reads every
table's columns and fails when one that looks personal (a name, an e-mail, an
address, free text tied to a person) is in neither list, and another that the
docs page (``docs/privacy.md``) names every listed column.

The packages above hold the data, so they do the work: each registers a
:class:`Section` here (``tickets.privacy``, ``realtime.privacy``) that exports
one attendee's rows, erases them, or purges a whole festival's. The core runs
them in order (:func:`export`, :func:`erase`, :func:`purge`) without importing
them, as :mod:`festival.events` does for events.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

# How long, in the words the docs page uses.
RETENTION = "until the festival's retention ends (retention_days after its end, 180 by default)"
ACCOUNT = "as long as the account exists"
UNTIL_SENT = "until sent, then until the festival's retention ends"


@dataclass(frozen=True)
class Personal:
    """A column holding personal data."""

    table: str
    column: str
    whose: str  # attendee, organiser, speaker
    holds: str
    why: str
    kept: str = RETENTION
    # Whether one attendee's export carries it (a secret's hash is never handed out).
    exported: bool = True


PERSONAL: tuple[Personal, ...] = (
    Personal("registrations", "name", "attendee", "name", "the ticket, the door, letters"),
    Personal("registrations", "email", "attendee", "e-mail address", "letters, one per address"),
    Personal("registrations", "organisation", "attendee", "organisation", "the organiser's list"),
    Personal("registrations", "country", "attendee", "country", "the organiser's list"),
    Personal(
        "registrations",
        "consent_terms_version",
        "attendee",
        "the terms version agreed to",
        "proof of consent",
    ),
    Personal("registrations", "consent_photo", "attendee", "photo consent", "proof of consent"),
    Personal("registrations", "consent_contact", "attendee", "contact after the event", "consent"),
    Personal("registrations", "consent_at", "attendee", "when consent was given", "consent"),
    Personal(
        "registration_answers",
        "label",
        "attendee",
        "the question an answer was given to, as it was worded",
        "reading the answer after the form changed",
    ),
    Personal(
        "registration_answers",
        "value",
        "attendee",
        "an answer to the festival's own questions (diet, access needs)",
        "catering, access, the door screen, the organiser's list",
    ),
    Personal(
        "tokens",
        "label",
        "attendee",
        "the name (or device) a token was issued to",
        "telling devices apart",
    ),
    Personal(
        "tokens",
        "token_hash",
        "attendee",
        "SHA-256 of a bearer secret",
        "signing in",
        exported=False,
    ),
    Personal(
        "access_codes",
        "code_hash",
        "attendee",
        "SHA-256 of an e-mailed code",
        "confirming an address",
        "until used or expired, at most the festival's retention",
        exported=False,
    ),
    Personal(
        "outbox", "to_address", "attendee", "e-mail address", "sending the letter", UNTIL_SENT
    ),
    Personal("outbox", "subject", "attendee", "a letter's subject", "sending it", UNTIL_SENT),
    Personal(
        "outbox", "body", "attendee", "a letter (name, ticket, links)", "sending it", UNTIL_SENT
    ),
    Personal(
        "outbox",
        "last_error",
        "attendee",
        "why sending failed (may name the address)",
        "retrying",
        UNTIL_SENT,
        exported=False,
    ),
    Personal("checkins", "payload", "attendee", "the scanned ticket text", "offline re-sync"),
    Personal(
        "checkins",
        "reply",
        "attendee",
        "the door's answer (the name)",
        "answering a re-sent scan alike",
        exported=False,
    ),
    Personal("checkins", "gate", "attendee", "where a ticket was scanned", "the door's history"),
    Personal("live_questions", "text", "attendee", "a question's text", "the session's Q&A"),
    Personal(
        "live_questions",
        "author_name",
        "attendee",
        "the asker's name (named questions only)",
        "shown with the question",
    ),
    Personal(
        "live_questions",
        "author_seal",
        "attendee",
        "a seal only the asker's token opens (anonymous questions)",
        "the asker's own export",
        exported=False,
    ),
    Personal("live_poll_ballots", "text", "attendee", "a free-text poll answer", "poll results"),
    Personal("accounts", "email", "organiser", "e-mail address", "signing in", ACCOUNT),
    Personal("accounts", "name", "organiser", "name", "shown to the team", ACCOUNT),
    Personal("accounts", "password_hash", "organiser", "Argon2 hash", "signing in", ACCOUNT, False),
    Personal(
        "password_resets",
        "code_hash",
        "organiser",
        "SHA-256 of a password link's code",
        "setting a password",
        "as long as the account",
        exported=False,
    ),
    Personal(
        "festival_invitations",
        "email",
        "organiser",
        "an invited address",
        "the invitation",
        "until accepted or expired, at most the festival's retention",
    ),
    Personal(
        "festival_invitations",
        "code_hash",
        "organiser",
        "SHA-256 of the invitation code",
        "accepting it",
        "as the invitation",
        exported=False,
    ),
    Personal(
        "speakers",
        "email",
        "speaker",
        "e-mail address (private)",
        "the organisers' contact",
        RETENTION,
    ),
    Personal(
        "speakers",
        "name",
        "speaker",
        "name",
        "the published programme",
        "as long as the programme (public by nature)",
    ),
    Personal(
        "speakers",
        "bio",
        "speaker",
        "biography",
        "the published programme",
        "as long as the programme (public by nature)",
    ),
    Personal(
        "speakers",
        "organisation",
        "speaker",
        "organisation",
        "the published programme",
        "as long as the programme (public by nature)",
    ),
)

# Columns whose names look personal but hold none, and why.
NOT_PERSONAL: dict[str, str] = {
    "registration_questions.label": "a question of the festival's form, the same for everyone",
    "registration_questions.help": "its help text",
    "registration_questions.choices": "its choices",
    "festivals.name": "the festival's name",
    "festivals.description": "the festival's public description",
    "festivals.terms": "the festival's terms, the same for everyone",
    "festivals.terms_version": "the digest of those terms",
    "festivals.confirm_email": "a setting: whether registrations confirm their address",
    "festival_messages.subject": "an organiser's message to many attendees (a copy per "
    "person is in the outbox)",
    "festival_messages.body": "the same message's text",
    "tracks.name": "a track of the programme",
    "tracks.description": "a track of the programme",
    "rooms.name": "a room or stage",
    "sessions.title": "a programme session",
    "sessions.abstract": "a programme session's public abstract",
    "programme_changes.title": "a session's title in the change log",
    "checkin_devices.name": "a scanner's name, chosen by the door staff",
    "live_polls.question": "a moderator's poll question",
    "live_poll_options.text": "a poll's option",
    "live_moderation_actions.actor_label": "the staff token's label (a role, not a person)",
    "idempotent_replies.body": (
        "a reply kept for retries; one attendee's are erased with them (by their ids)"
    ),
    "privacy_log.detail": "what was exported or erased, never whose data it was",
    "outbox.kind": "the kind of a letter",
    "festivals.settings": "the festival's settings",
    "tokens.session_ids": "the sessions a staff token may moderate",
    "idempotent_replies.key_hash": "a digest of a client's retry key",
    "idempotent_replies.request_digest": "a digest of the request body",
    "programme_changes.before": "a session's fields before a change",
    "programme_changes.after": "a session's fields after a change",
    "live_moderation_actions.before": (
        "a question's status and text before a moderation (the text outlives erasure, "
        "unlinked, as the question's does)"
    ),
    "live_moderation_actions.after": "the same, after the moderation",
}


@dataclass(frozen=True)
class Subject:
    """Whose data: one registration, with the digest that opens their anonymous
    questions' seals when they ask themselves (an organiser's request has none)."""

    registration_id: uuid.UUID
    festival_id: uuid.UUID
    seal_key: bytes | None = field(default=None, repr=False)
    # The address and name before erasure, to find letters sent to it.
    email: str = ""


Exporter = Callable[[AsyncSession, Subject], Awaitable[dict[str, Any]]]
Eraser = Callable[[AsyncSession, Subject], Awaitable[None]]
Purger = Callable[[AsyncSession, uuid.UUID], Awaitable[None]]


@dataclass(frozen=True)
class Section:
    """One package's part of a person's data."""

    name: str
    export: Exporter
    erase: Eraser
    purge: Purger


_sections: dict[str, Section] = {}


def register(section: Section) -> None:
    """Add (or replace, by name) a package's section; idempotent."""
    _sections[section.name] = section


def sections() -> list[Section]:
    return list(_sections.values())


async def export(session: AsyncSession, subject: Subject) -> dict[str, Any]:
    """Every section's export of ``subject``, merged (each names its own keys)."""
    found: dict[str, Any] = {}
    for section in sections():
        found |= await section.export(session, subject)
    return found


async def erase(session: AsyncSession, subject: Subject) -> None:
    """Every section erases ``subject``'s data, in registration order."""
    for section in sections():
        await section.erase(session, subject)


async def purge(session: AsyncSession, festival_id: uuid.UUID) -> None:
    """Every section purges the personal data of a whole festival."""
    for section in sections():
        await section.purge(session, festival_id)
