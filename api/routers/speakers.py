"""Speakers invited to moderate their sessions (:mod:`tickets.speakers`)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.http.deps import OrganiserDep, SessionDep, SettingsDep
from api.http.problems import ERROR_RESPONSES
from api.http.routing import JSONRoute
from tickets import speakers
from tickets.schemas import SpeakerInvited

router = APIRouter(
    route_class=JSONRoute, prefix="/api/v1", tags=["programme"], responses=ERROR_RESPONSES
)


@router.post(
    "/festivals/{slug}/speakers/{speaker_id}/invite",
    status_code=202,
    summary="E-mail a speaker moderator links to their sessions (replaces earlier ones)",
)
async def invite(
    slug: str, speaker_id: uuid.UUID, session: SessionDep, who: OrganiserDep, settings: SettingsDep
) -> SpeakerInvited:
    return await speakers.invite(session, who, slug, speaker_id, base_url=settings.base_url)
