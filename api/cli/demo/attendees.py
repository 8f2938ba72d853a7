"""Demo tickets: a step of `festival demo`, run after the programme step.

Each demo festival gets registrations, the hybrid one also seat reservations
with a waiting list (its first workshop fills up) and a morning of check-ins at
the entrance. Loading twice changes nothing: attendees are found by e-mail and
check-ins by their offline scan key. Secrets cannot be read back (only their
hashes are stored), so each run revokes the demo's previous door and attendee
tokens and prints fresh ones.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal, issue_token, revoke_tokens_of
from festival.db import utcnow
from festival.models import Account, Festival, Token
from festival.settings import Settings
from schedule.models import Session
from tickets import checkin, issuing, queries, questions, registration, seats
from tickets.models import Checkin, Registration, RegistrationQuestion
from tickets.schemas import Answer, RegistrationCreate, RegistrationIssued

DOOR_LABEL = "Demo door (main entrance)"
PEOPLE = [
    ("Amina Okafor", "Wageningen University", "Nigeria"),
    ("Bram de Jong", "Cordaid", "Netherlands"),
    ("Chipo Moyo", "Hivos", "Zimbabwe"),
    ("Daniel Mwangi", "iHub", "Kenya"),
    ("Elif Yilmaz", "Oxfam Novib", "Turkey"),
    ("Farah Haddad", "ICCO", "Lebanon"),
    ("Grace Achieng", "Akvo", "Uganda"),
    ("Hugo Martens", "Partos", "Netherlands"),
    ("Isabel Souza", "Fundação Getulio Vargas", "Brazil"),
    ("Jonas Berg", "SNV", "Norway"),
    ("Kwame Mensah", "Ashesi University", "Ghana"),
    ("Lina Petrova", "Text to Change", "Bulgaria"),
    ("Mohammed Rahman", "BRAC", "Bangladesh"),
    ("Nadia Benali", "Simavi", "Morocco"),
    ("Oscar Lindqvist", "Spark", "Sweden"),
    ("Priya Nair", "Digital Green", "India"),
    ("Quentin Laurent", "Fair Trade Original", "France"),
    ("Rosa Jiménez", "Solidaridad", "Colombia"),
    ("Samuel Tesfaye", "icipe", "Ethiopia"),
    ("Thandiwe Dube", "SAFL", "South Africa"),
    ("Umar Farouk", "Tech4Dev", "Nigeria"),
    ("Vera Kowalski", "Justice & Peace", "Poland"),
    ("Wanjiru Kamau", "Ushahidi", "Kenya"),
    ("Xavier Dumont", "Enabel", "Belgium"),
    ("Yara Haddad", "SPARK", "Jordan"),
    ("Zanele Khumalo", "Dutch Relief Alliance", "South Africa"),
    ("Anouk Visser", "Dutch MFA", "Netherlands"),
    ("Bilal Qureshi", "ICT4D Pakistan", "Pakistan"),
    ("Camille Rousseau", "Agence Française", "France"),
    ("Dawit Alemu", "Addis Ababa University", "Ethiopia"),
]


def _email(name: str, festival: Festival) -> str:
    local = name.lower().replace(" ", ".").encode("ascii", "ignore").decode()
    return f"{local}+{festival.slug}@demo.festival"


def _taken_at(festival: Festival) -> datetime:
    """When the demo's registrations and seats are taken: now, or, for a festival
    that is over (it takes none then), as it opened."""
    return min(utcnow(), datetime.combine(festival.starts_on, time(0), ZoneInfo(festival.timezone)))


def _principal(reg: Registration) -> Principal:
    return Principal(
        kind="attendee", token_id=uuid.uuid4(), festival_id=reg.festival_id, subject_id=reg.id
    )


# The hybrid edition's own questions: what the registration form asks beyond a name.
QUESTIONS: list[dict[str, Any]] = [
    {"kind": "choice", "label": "Diet", "required": True,
     "choices": ["No preference", "Vegetarian", "Vegan", "Halal"]},
    {"kind": "choices", "label": "Which tracks interest you?",
     "choices": ["Digital Futures", "Food Systems", "Climate Finance"]},
    {"kind": "text", "label": "Access needs", "help": "Step-free access, captions, a quiet room",
     "at_door": True},
    {"kind": "yes_no", "label": "May we photograph you?", "required": True},
]  # fmt: skip
ONLINE = 3  # the last people registered follow the hybrid edition online


async def _questions(session: AsyncSession, festival: Festival) -> list[RegistrationQuestion]:
    """The hybrid edition's form (made once)."""
    found = list(await questions.of_festival(session, festival.id))
    if found:
        return found
    for position, spec in enumerate(QUESTIONS):
        session.add(
            RegistrationQuestion(
                id=uuid.uuid4(), festival_id=festival.id, position=position, **spec
            )
        )
    await session.flush()
    return list(await questions.of_festival(session, festival.id))


def _answers(form: list[RegistrationQuestion], n: int) -> dict[uuid.UUID, Answer]:
    """Person ``n``'s answers to the demo's form."""
    given: dict[uuid.UUID, Answer] = {}
    for question in form:
        if question.kind == "choice" and question.choices:
            given[question.id] = question.choices[n % len(question.choices)]
        elif question.kind == "choices" and question.choices:
            given[question.id] = question.choices[: 1 + n % len(question.choices)]
        elif question.kind == "yes_no":
            given[question.id] = n % 4 != 1
        elif n == 2:
            given[question.id] = "Step-free access, please"
    return given


async def _attendees(session: AsyncSession, festival: Festival, count: int) -> list[Registration]:
    made = []
    hybrid = festival.mode == "hybrid"
    form = await _questions(session, festival) if hybrid else []
    for n, (name, organisation, country) in enumerate(PEOPLE[:count]):
        email = _email(name, festival)
        found = await session.scalar(
            select(Registration).where(
                Registration.festival_id == festival.id, Registration.email == email
            )
        )
        if found is None:
            data = RegistrationCreate(
                name=name,
                email=email,
                organisation=organisation,
                country=country,
                participation="online" if hybrid and n >= count - ONLINE else None,
                answers=_answers(form, n) if form else None,
            )
            at = _taken_at(festival)
            issued = await registration.register(session, festival.slug, data, at=at)
            assert isinstance(issued, RegistrationIssued)  # the demo confirms no addresses
            found = await session.get(Registration, issued.id)
        assert found is not None
        made.append(found)
    return made


async def _seats(session: AsyncSession, festival: Festival, people: list[Registration]) -> str:
    """Everyone wants the first workshop with seats: it fills, the rest wait."""
    workshop = await session.scalar(
        select(Session)
        .where(Session.festival_id == festival.id, Session.capacity.is_not(None))
        .order_by(Session.capacity, Session.starts_at)
        .limit(1)
    )
    if workshop is None:
        return "no workshop with seats"
    for person in people:
        await seats.reserve(session, _principal(person), workshop.id, at=_taken_at(festival))
    return f"{workshop.title!r} ({workshop.capacity} seats)"


async def _checkins(session: AsyncSession, festival: Festival, people: list[Registration]) -> int:
    """A morning of arrivals at the entrance, as if synced from a door tablet."""
    zone = ZoneInfo(festival.timezone)
    # The doors open at 08:30, or, on a festival that started today, two hours ago.
    opening = min(
        datetime.combine(festival.starts_on, time(8, 30), zone), utcnow() - timedelta(hours=2)
    )
    done = 0
    for n, person in enumerate(people[: len(people) * 2 // 3]):
        ticket = await session.scalar(queries.ticket_of(person.id))
        if ticket is None:
            continue
        qr = await issuing.payload(session, ticket)
        at = opening + timedelta(minutes=4 * n + (n % 3))
        key = checkin.scan_key("demo-tablet", qr, at)
        if await session.scalar(select(Checkin.id).where(Checkin.scan_key == key)) is None:
            scan = checkin.Scan(qr, "festival", "Main entrance", at, "demo-tablet", key)
            await checkin.scan_ticket(session, festival.id, scan)
        done += 1
    return done


async def _door_token(session: AsyncSession, owner: Account, festival: Festival) -> str:
    await session.execute(
        update(Token)
        .where(
            Token.festival_id == festival.id,
            Token.kind == "staff",
            Token.label == DOOR_LABEL,
            Token.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    _, raw = await issue_token(
        session,
        "staff",
        account_id=owner.id,
        festival_id=festival.id,
        role="checkin",
        label=DOOR_LABEL,
    )
    return raw


async def _attendee_tokens(session: AsyncSession, person: Registration) -> tuple[str, str]:
    tokens = []
    for kind in ("attendee", "feed"):
        await revoke_tokens_of(session, person.id, kind)
        _, raw = await issue_token(
            session, kind, festival_id=person.festival_id, subject_id=person.id, label=person.name
        )
        tokens.append(raw)
    return tokens[0], tokens[1]


async def load(
    session: AsyncSession, owner: Account, festivals: list[Festival], settings: Settings
) -> list[str]:
    """Add this capability's demo data idempotently; return lines worth printing."""
    lines: list[str] = []
    for festival in festivals:
        hybrid = festival.mode != "online"
        people = await _attendees(session, festival, len(PEOPLE) if hybrid else 12)
        lines.append(f"tickets: {festival.slug}: {len(people)} registrations")
        if not hybrid:
            continue
        lines.append(
            f"tickets: {festival.slug}: seats in {await _seats(session, festival, people)}"
        )
        lines.append(
            f"tickets: {festival.slug}: {await _checkins(session, festival, people)} checked in"
        )
        door = await _door_token(session, owner, festival)
        attendee, feed = await _attendee_tokens(session, people[0])
        await session.flush()
        lines += [
            f"check-in staff token ({festival.slug}): {door}",
            f"  scanner page: {settings.base_url}/checkin/{festival.slug}?token={door}",
            f"attendee token ({people[0].name}): {attendee}",
            f"  agenda feed: {settings.base_url}/api/v1/me/agenda.ics?token={feed}",
        ]
    return lines
