"""Demo live sessions: a step of `festival demo`, after the programme and tickets.

The opening keynote and the Power Awareness workshop of each demo festival are
live, with a few questions (approved, pending and anonymous, some with votes)
and an open poll, made through the same use cases as the websocket. Loading
again finds the questions and adds nothing. Secrets are never stored, so each
run issues a fresh moderator token and projector link and revokes the previous
demo ones.
"""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal, issue_token
from festival.db import utcnow
from festival.models import Account, Festival, Token
from festival.settings import Settings
from realtime import polls, qa
from realtime.live import LiveContext
from realtime.models import Question
from realtime.projector import issue_projector_link
from realtime.protocol import Event, PollCreate
from schedule.models import Session

LIVE_KEYS = ("opening", "pat")
MODERATOR_LABEL = "demo live moderator"
NAMESPACE = uuid.UUID("6f1c2e8a-0b5d-4f3e-9a51-2d7c9e0f4b11")
QUESTIONS = [
    ("Amina Yusuf", False, "How do we keep farmers in the loop when everything is online?", True),
    ("Pieter Jansen", False, "Which tools worked best for remote co-creation this year?", True),
    ("", True, "Who decides which innovations get funded, and how open is that?", True),
    ("Lena Hoffmann", False, "Will the recordings be available after the festival?", False),
]


class _Quiet:
    """The demo runs without a hub: events of the demo data have nobody to reach."""

    available = True

    async def publish(self, session_id: uuid.UUID, event: Event) -> None:
        return None

    def offer_votes(
        self, session_id: uuid.UUID, question_id: uuid.UUID, version: int, n: int
    ) -> None:
        return None

    def offer_results(
        self, session_id: uuid.UUID, poll_id: uuid.UUID, version: int, e: Event
    ) -> None:
        return None


def _attendee(festival: Festival, name: str) -> Principal:
    subject = uuid.uuid5(NAMESPACE, f"{festival.slug}/{name or 'anonymous'}")
    return Principal(
        kind="attendee",
        token_id=subject,
        festival_id=festival.id,
        subject_id=subject,
        label=name or "Attendee",
    )


async def _fill(session: AsyncSession, festival: Festival, talk: Session, owner: Account) -> None:
    """Questions and a poll, unless the session already has questions."""
    if await session.scalar(select(exists().where(Question.session_id == talk.id))):
        return
    out = _Quiet()
    organiser = Principal(
        kind="organiser", token_id=uuid.uuid4(), account_id=owner.id, label="Demo"
    )
    mod = LiveContext(talk.id, festival.id, "moderator", organiser, out)
    voters = [_attendee(festival, f"Voter {i}") for i in range(6)]
    for n, (name, anonymous, text, approve) in enumerate(QUESTIONS):
        asker = LiveContext(talk.id, festival.id, "attendee", _attendee(festival, name), out)
        question = await qa.ask(session, asker, text, anonymous)
        if approve:
            await qa.moderate(session, mod, question.id, "approve")
            for voter in voters[: 5 - n]:
                ctx = LiveContext(talk.id, festival.id, "attendee", voter, out)
                await qa.vote(session, ctx, question.id, True)
    spec = PollCreate(
        question="What should the next edition focus on?",
        kind="single",
        options=["Food systems", "Digital partnerships", "Shifting the power"],
    )
    poll, options = await polls.create(session, mod, spec)
    await polls.open_poll(session, mod, poll.id)
    for i, voter in enumerate(voters):
        ctx = LiveContext(talk.id, festival.id, "attendee", voter, out)
        await polls.vote(session, ctx, poll.id, option_ids=[options[i % 3 if i < 4 else 2].id])


async def _links(
    session: AsyncSession, festival: Festival, talks: list[Session], settings: Settings
) -> list[str]:
    await session.execute(
        update(Token)
        .where(
            Token.festival_id == festival.id,
            Token.label == MODERATOR_LABEL,
            Token.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    ids = [str(t.id) for t in talks]
    _, raw = await issue_token(
        session,
        "staff",
        festival_id=festival.id,
        role="moderator",
        session_ids=ids,
        label=MODERATOR_LABEL,
    )
    base = settings.base_url.rstrip("/")
    lines = [f"live moderator token ({festival.slug}): {raw}"]
    for talk in talks:
        staff = Principal(
            kind="staff",
            token_id=uuid.uuid4(),
            festival_id=festival.id,
            role="moderator",
            label=MODERATOR_LABEL,
        )
        ctx = LiveContext(talk.id, festival.id, "moderator", staff, _Quiet())
        _, url = await issue_projector_link(session, ctx, base)
        lines.append(f"live: {talk.title}: {base}/live/{talk.id}")
        lines.append(f"  moderate: {base}/moderate/{talk.id}?token={raw}")
        lines.append(f"  projector: {url}")
    return lines


async def load(
    session: AsyncSession, owner: Account, festivals: list[Festival], settings: Settings
) -> list[str]:
    """Make the demo keynote and workshop live with questions and a poll; print the links."""
    lines: list[str] = []
    for festival in festivals:
        keys = [f"demo-{festival.slug}-{key}" for key in LIVE_KEYS]
        talks = list(
            (
                await session.scalars(
                    select(Session)
                    .where(Session.festival_id == festival.id, Session.external_id.in_(keys))
                    .order_by(Session.starts_at)
                )
            ).all()
        )
        if not talks:
            continue
        for talk in talks:
            talk.live_qa = True
        await session.flush()
        for talk in talks:
            await _fill(session, festival, talk, owner)
        lines += await _links(session, festival, talks, settings)
    return lines
