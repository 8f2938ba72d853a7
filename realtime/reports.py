"""Moderators' CSV exports, readable at any time, during the event too."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from festival.errors import Forbidden
from realtime import exports, polls, qa
from realtime.live import LiveContext


def _require_moderator(ctx: LiveContext) -> None:
    if not ctx.is_moderator:
        raise Forbidden("Only moderators export a session's Q&A and polls")


async def questions_csv(session: AsyncSession, ctx: LiveContext) -> str:
    """Every question of the session (the whole queue), oldest first."""
    _require_moderator(ctx)
    return exports.questions_csv(await qa.list_questions(session, ctx, "time", limit=100_000))


async def polls_csv(session: AsyncSession, ctx: LiveContext) -> str:
    """Every poll with its current results, one row per option, rating or word."""
    _require_moderator(ctx)
    return exports.polls_csv(await polls.list_polls(session, ctx))
