"""Q&A use cases: ask, vote, moderate, list, and the per-session pre-moderation switch.

Every change is flushed in the caller's unit of work; its event is published
only after the commit. Votes live in :mod:`realtime.votes`: their counts are
not published per vote but offered to the hub's coalescer with the version
the database gave them.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from festival.db import utcnow
from festival.errors import Conflict, FestivalError, Forbidden, Invalid
from festival.schemas import BIDI_CONTROLS
from realtime import queries, votes
from realtime.access import pre_moderation
from realtime.errors import QuestionNotFound
from realtime.live import LiveContext, announce, not_an_attendee
from realtime.models import LiveChannel, ModerationAction, Question
from realtime.protocol import Event
from realtime.queries import PUBLIC_STATUSES, questions_of
from realtime.seals import seal
from realtime.views import question_view

MAX_TEXT = 500
_SPACES = {"\n", "\r", "\t"}


def clean_text(raw: str, field: str = "text", limit: int = MAX_TEXT) -> str:
    """Trimmed, without control characters or bidirectional overrides, 1..``limit``
    characters (a live question is cleaned rather than refused: it was typed in a hurry)."""
    text = "".join(
        " " if c in _SPACES else c
        for c in raw
        if c in _SPACES or (unicodedata.category(c) != "Cc" and c not in BIDI_CONTROLS)
    ).strip()
    if not text:
        raise Invalid(f"{field} is empty", field=field)
    if len(text) > limit:
        raise Invalid(f"{field} is longer than {limit} characters", field=field)
    return text


def _require_moderator(ctx: LiveContext) -> None:
    if not ctx.is_moderator:
        raise Forbidden("Only moderators may do this")


def _require_attendee(ctx: LiveContext) -> None:
    if (refused := not_an_attendee(ctx)) is not None:
        raise refused


def _audience(*statuses: str) -> str:
    return "all" if any(s in PUBLIC_STATUSES for s in statuses) else "moderators"


async def ask(session: AsyncSession, ctx: LiveContext, text: str, anonymous: bool) -> Question:
    """Ask a question: visible at once, or queued for moderation when pre-moderation is on."""
    _require_attendee(ctx)
    text = clean_text(text)
    held = await pre_moderation(session, ctx)
    question_id = uuid.uuid4()
    question = Question(
        id=question_id,
        session_id=ctx.session_id,
        # Anonymous means no link at all: nothing reads the author back (limits
        # count per token and socket), so the row keeps neither name nor id;
        # only the asker's own token opens its seal (realtime.seals).
        author_id=None if anonymous else ctx.voter_id,
        author_name=None if anonymous else (ctx.principal.label or "Attendee"),
        author_seal=seal(ctx.principal.seal_key, question_id) if anonymous else None,
        anonymous=anonymous,
        text=text,
        status="pending" if held else "approved",
        highlighted=False,
        votes=0,
        votes_version=0,
        revision=0,
    )
    session.add(question)
    await session.flush()
    event = Event("question.added", question_view(question), _audience(question.status))  # type: ignore[arg-type]
    announce(session, ctx, event)
    return question


async def vote(session: AsyncSession, ctx: LiveContext, question_id: uuid.UUID, up: bool) -> int:
    """Upvote or take back; idempotent. Returns the question's count after the change.

    A batch of one: the socket sends its votes to :func:`realtime.votes.vote_many`
    many at a time, and the same statements serve a single REST vote.
    """
    (outcome,) = await votes.vote_many(session, [votes.Cast(ctx, question_id, up)])
    if isinstance(outcome, FestivalError):
        raise outcome
    return outcome


def _state(q: Question) -> dict[str, Any]:
    return {"status": q.status, "highlighted": q.highlighted, "text": q.text}


_NEXT_STATUS = {
    "approve": "approved",
    "dismiss": "dismissed",
    "answer": "answered",
    "reopen": "approved",
}


async def moderate(
    session: AsyncSession,
    ctx: LiveContext,
    question_id: uuid.UUID,
    action: str,
    text: str | None = None,
) -> Question:
    """Approve, dismiss, (un)highlight, answer, reopen or edit; kept in the audit trail.

    Everyone in the session waits on this before the fan-out, so it is three
    statements built once (lock, write, audit) and no ORM load or flush: the
    question it returns is a copy outside the session, with the new state (a
    copy this session loaded before keeps the old one).
    """
    _require_moderator(ctx)
    connection = await session.connection()
    keys = {"m_question": question_id, "m_session": ctx.session_id}
    row = (await connection.execute(queries.question_to_moderate(), keys)).first()
    if row is None:
        raise QuestionNotFound(f"No question {question_id}", field="question_id")
    question = Question(**row._mapping)
    before = _state(question)
    if action == "edit":
        if text is None:
            raise Invalid("edit needs the new text", field="text")
        question.text = clean_text(text)
    elif action == "highlight":
        if question.status == "dismissed":
            raise Conflict("A dismissed question cannot be highlighted", field="question_id")
        await _unhighlight_others(connection, session, ctx, question.id)
        question.highlighted = True
        if question.status == "pending":
            question.status = "approved"
    elif action == "unhighlight":
        question.highlighted = False
    else:
        question.status = _NEXT_STATUS[action]
        if action in ("dismiss", "answer"):
            question.highlighted = False
    try:
        await _save(connection, ctx, question, action, before)
    except IntegrityError as exc:
        raise Conflict("Another question was highlighted at the same moment") from exc
    audience = _audience(before["status"], question.status)
    announce(session, ctx, Event("question.updated", question_view(question), audience))  # type: ignore[arg-type]
    return question


async def _unhighlight_others(
    connection: AsyncConnection, session: AsyncSession, ctx: LiveContext, keep: uuid.UUID
) -> None:
    keys = {"m_question": keep, "m_session": ctx.session_id}
    for row in (await connection.execute(queries.other_highlighted(), keys)).all():
        other = Question(**row._mapping)
        before = _state(other)
        other.highlighted = False
        await _save(connection, ctx, other, "unhighlight", before)
        event = Event("question.updated", question_view(other), _audience(other.status))  # type: ignore[arg-type]
        announce(session, ctx, event)


async def _save(
    connection: AsyncConnection,
    ctx: LiveContext,
    q: Question,
    action: str,
    before: dict[str, Any],
) -> None:
    """Write ``q``'s new state (its revision one up) and its line in the audit trail."""
    q.revision += 1
    q.updated_at = now = utcnow()
    state = {
        "m_question": q.id,
        "m_text": q.text,
        "m_status": q.status,
        "m_highlighted": q.highlighted,
        "m_revision": q.revision,
        "m_at": now,
    }
    await connection.execute(queries.save_moderated(), state)
    audit = {
        "id": uuid.uuid4(),
        "session_id": ctx.session_id,
        "question_id": q.id,
        "action": action,
        "actor_token_id": ctx.principal.token_id,
        "actor_label": ctx.principal.label,
        "before": before,
        "after": _state(q),
        "at": now,
    }
    await connection.execute(queries.record_moderation(), audit)


async def list_questions(
    session: AsyncSession, ctx: LiveContext, sort: str = "votes", limit: int = 500
) -> Sequence[Question]:
    """The questions this role may see, by votes (then time) or by time."""
    return (await session.scalars(questions_of(ctx.session_id, ctx.role, sort).limit(limit))).all()


async def moderation_log(session: AsyncSession, ctx: LiveContext) -> Sequence[ModerationAction]:
    _require_moderator(ctx)
    stmt = (
        select(ModerationAction)
        .where(ModerationAction.session_id == ctx.session_id)
        .order_by(ModerationAction.at, ModerationAction.id)
    )
    return (await session.scalars(stmt)).all()


async def set_pre_moderation(session: AsyncSession, ctx: LiveContext, on: bool) -> bool:
    """Switch pre-moderation for the session; questions already asked keep their status."""
    _require_moderator(ctx)
    await pre_moderation(session, ctx, on)
    await session.execute(
        update(LiveChannel)
        .where(LiveChannel.session_id == ctx.session_id)
        .values(pre_moderation=on)
    )
    announce(session, ctx, Event("session.settings", {"pre_moderation": on}))
    return on


async def update_question(
    session: AsyncSession,
    ctx: LiveContext,
    question_id: uuid.UUID,
    action: str | None,
    text: str | None,
) -> Question:
    """The REST form of moderation: an action, or new text alone meaning an edit."""
    if action is None and text is None:
        raise Invalid("Give an action or new text", field="action")
    return await moderate(session, ctx, question_id, action or "edit", text)
