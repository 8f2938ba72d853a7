"""Projector links: read-only tokens a moderator hands to the screen in the room."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import issue_token
from festival.errors import Forbidden
from realtime.live import LiveContext


async def issue_projector_link(
    session: AsyncSession, ctx: LiveContext, base_url: str
) -> tuple[str, str]:
    """A projector token for this one session and the page that shows it."""
    if not ctx.is_moderator:
        raise Forbidden("Only moderators issue projector links")
    _, raw = await issue_token(
        session,
        "projector",
        festival_id=ctx.festival_id,
        session_ids=[str(ctx.session_id)],
        label=f"projector by {ctx.principal.label or ctx.principal.kind}",
    )
    return raw, f"{base_url.rstrip('/')}/present/{ctx.session_id}?token={raw}"
