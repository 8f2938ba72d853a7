"""The stage's routes: a session's gated join link, and what is on now (schedule.stage)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from api.http.deps import MaybeReaderDep, PrincipalDep, ReadSessionDep, SessionDep, SettingsDep
from api.http.problems import ERROR_RESPONSES
from api.http.routing import JSONRoute
from festival.db import utcnow
from realtime.hub import Hub
from schedule import stage
from schedule.schemas import JoinRead, StageRead

router = APIRouter(route_class=JSONRoute, tags=["stage"], responses=ERROR_RESPONSES)


@router.get(
    "/api/v1/sessions/{session_id}/join",
    summary="The session's stream, for its participants, from 15 minutes before it starts",
)
async def join(session_id: uuid.UUID, session: SessionDep, who: PrincipalDep) -> JoinRead:
    return await stage.join_link(session, who, session_id, utcnow())


@router.get(
    "/api/v1/festivals/{slug}/now",
    summary="Sessions live now and next, with how many people are in each live room",
)
async def now(
    slug: str,
    request: Request,
    session: ReadSessionDep,
    who: MaybeReaderDep,
    settings: SettingsDep,
) -> StageRead:
    presence = _presence(request.app.state.live.hub)
    return await stage.on_stage(
        session, who, slug, utcnow(), base_url=settings.base_url, presence=presence
    )


def _presence(hub: Hub) -> stage.Presence:
    """A session's head count from this process's hub, without a round trip: the
    count the broker last told it (every node's sockets) or its own sockets,
    whichever is larger, as a joining socket's snapshot shows. A node that holds
    no socket of a session has not heard its count, and says 0."""

    def count(session_id: uuid.UUID) -> int:
        channel = hub.channels.get(str(session_id))
        if channel is None:
            return 0
        return max(channel.presence or 0, channel.size)

    return count
