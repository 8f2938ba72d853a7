"""Letters as people receive them: plain text and HTML, the ticket's QR code as an
inline PNG, and the festival as an ``.ics`` attachment.

The outbox keeps each letter's plain text as written in the transaction that
caused it (:mod:`tickets.letters`); what makes it pleasant to receive is
composed when it is sent (:func:`compose`), off the request path: the HTML
alternative, the links to the ticket page and to sign in on another device, and,
for a letter that gives a place, the QR code of the ticket as it is now (a
ticket reissued since is sent as reissued; a revoked one is not sent) and the
festival's dates as a calendar file. ``festival mail preview`` composes each
kind from sample facts (:func:`sample`), to look at without a database.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from festival.models import Festival
from tickets import issuing, qr
from tickets.models import Ticket

# Letters whose reader now holds a place: they carry the ticket and the festival's dates.
PLACE_GIVEN = frozenset({"registration.confirmed", "registration.promoted"})
_URL = re.compile(r"https?://[^\s<>\"']+")
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Letter:
    """An outbox row as the sender leases it."""

    id: uuid.UUID
    kind: str
    to: str
    subject: str
    body: str
    festival_id: uuid.UUID | None = None
    registration_id: uuid.UUID | None = None


@dataclass(frozen=True)
class FestivalFacts:
    id: uuid.UUID
    slug: str
    name: str
    starts_on: date
    ends_on: date
    mode: str


@dataclass(frozen=True)
class Facts:
    """What a letter is composed with beyond its text."""

    festival: FestivalFacts | None = None
    qr: str | None = None  # the ticket's payload, when the letter gives a place


async def facts_for(session: AsyncSession, letter: Letter) -> Facts:
    """The festival of ``letter`` and, if it gives a place, the ticket's current payload."""
    if letter.festival_id is None:
        return Facts()
    festival = await session.get(Festival, letter.festival_id)
    if festival is None:
        return Facts()
    facts = FestivalFacts(
        festival.id,
        festival.slug,
        festival.name,
        festival.starts_on,
        festival.ends_on,
        festival.mode,
    )
    payload = None
    if letter.kind in PLACE_GIVEN and letter.registration_id is not None:
        ticket = await session.scalar(
            select(Ticket).where(
                Ticket.registration_id == letter.registration_id, Ticket.revoked_at.is_(None)
            )
        )
        if ticket is not None:
            payload = await issuing.payload(session, ticket)
    return Facts(facts, payload)


def compose(letter: Letter, facts: Facts, *, mail_from: str, base_url: str) -> EmailMessage:
    """The e-mail of ``letter``: multipart/alternative (text, HTML with the QR code
    inline), with the festival's ``.ics`` attached to a letter that gives a place."""
    base = base_url.rstrip("/")
    links: list[tuple[str, str]] = []
    if facts.festival is not None and letter.kind.startswith("registration."):
        slug = quote(facts.festival.slug)
        links = [
            ("Your ticket page (on the device you registered with)", f"{base}/f/{slug}/ticket"),
            ("On another device? Sign in with an e-mailed link", f"{base}/f/{slug}/me"),
            ("The programme", f"{base}/f/{slug}"),
        ]
    text = letter.body.rstrip("\n") + "\n"
    if links:
        text += "\n" + "\n".join(f"{label}: {url}" for label, url in links) + "\n"
    mail = EmailMessage()
    mail["From"] = mail_from
    mail["To"] = letter.to
    mail["Subject"] = letter.subject
    mail["Message-ID"] = f"<{letter.id}@festival>"
    mail.set_content(text)
    qr_id = make_msgid(domain="festival") if facts.qr else None
    html = _env.get_template("mail.html").render(
        subject=letter.subject,
        paragraphs=_paragraphs(letter.body, hide=facts.qr),
        links=links,
        qr_cid=qr_id[1:-1] if qr_id else None,
        festival=facts.festival,
    )
    mail.add_alternative(html, subtype="html")
    if facts.qr and qr_id:
        html_part = mail.get_payload()[1]  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        html_part.add_related(
            qr.render(facts.qr, "png"), "image", "png", cid=qr_id, filename="ticket.png"
        )
    if facts.festival is not None and letter.kind in PLACE_GIVEN:
        mail.add_attachment(
            festival_ics(facts.festival, base),
            maintype="text",
            subtype="calendar",
            filename=f"{facts.festival.slug}.ics",
        )
    return mail


def _paragraphs(body: str, *, hide: str | None) -> list[list[tuple[str, str]]]:
    """The body's paragraphs as runs of (text, url) for the template to link; the
    ticket payload (shown as the QR image instead) left out."""
    out = []
    for block in re.split(r"\n\s*\n", body.strip()):
        if hide and hide in block:
            block = block.replace(hide, "").replace(
                "Your ticket (show it as a QR code at the door):", ""
            )
            if not block.strip():
                continue
        runs: list[tuple[str, str]] = []
        position = 0
        for found in _URL.finditer(block):
            runs.append((block[position : found.start()], ""))
            runs.append((found.group(), found.group()))
            position = found.end()
        runs.append((block[position:], ""))
        out.append(runs)
    return out


def festival_ics(festival: FestivalFacts, base_url: str) -> bytes:
    """The festival's days as one all-day event, to add to a calendar."""
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", "-//Festival//festival//EN")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", f"festival-{festival.id}@festival")
    event.add("summary", festival.name)
    event.add("dtstart", festival.starts_on)
    event.add("dtend", festival.ends_on + timedelta(days=1))
    url = f"{base_url}/f/{quote(festival.slug)}"
    event.add("url", url)
    where = {"online": "Online", "hybrid": "On site and online", "onsite": "On site"}
    event.add("description", f"{where.get(festival.mode, '')}. Programme: {url}")
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def sample(kind: str) -> tuple[Letter, Facts]:
    """A letter of ``kind`` about a sample festival, for ``festival mail preview``."""
    from tickets import letters, signing

    festival = FestivalFacts(
        uuid.UUID(int=1), "innovation-festival", "Innovation Festival", date(2030, 10, 8),
        date(2030, 10, 9), "hybrid",
    )  # fmt: skip
    payload = None
    if f"registration.{kind}" in PLACE_GIVEN:
        private, _ = signing.new_keypair()
        payload = signing.sign(private, uuid.UUID(int=2), festival.id, 1)
    fill = {
        "link": "https://festival.example.org/f/innovation-festival/me#code=fc_sample",
        "until": " before 2030-10-01 12:00 UTC",
        "place": "A place is held for you until then.",
        "standing": "registered",
    }
    row = letters.letter(
        festival.name, "Ada Lovelace", "ada@example.org", kind, payload, festival.id,
        uuid.UUID(int=3), **fill,
    )  # fmt: skip
    letter = Letter(
        row["id"],
        row["kind"],
        row["to_address"],
        row["subject"],
        row["body"],
        festival.id,
        uuid.UUID(int=3),
    )
    return letter, Facts(festival, payload)
