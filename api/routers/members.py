"""A festival's team: invite by e-mail, list, change a role, remove; accept an invitation."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.http.deps import OrganiserDep, SessionDep, SettingsDep
from api.http.problems import ERROR_RESPONSES, LINK_EXPIRED
from api.http.routing import JSONRoute
from festival import members
from festival.schemas import (
    InvitationAccept,
    InvitationAccepted,
    MemberInvite,
    MemberRead,
    MemberUpdate,
    Page,
)

router = APIRouter(
    route_class=JSONRoute, prefix="/api/v1", tags=["team"], responses=ERROR_RESPONSES
)
TEAM = "/festivals/{slug}/members"


@router.post(
    TEAM,
    status_code=201,
    summary="Invite someone to the festival's team by e-mail (owners)",
)
async def invite(
    slug: str, body: MemberInvite, session: SessionDep, who: OrganiserDep, settings: SettingsDep
) -> MemberRead:
    return await members.invite(session, who, slug, body, base_url=settings.base_url)


@router.get(TEAM, summary="The festival's team and open invitations (owners)")
async def team(slug: str, session: SessionDep, who: OrganiserDep) -> Page[MemberRead]:
    return Page(items=await members.team(session, who, slug))


@router.patch(TEAM + "/{member_id}", summary="Change a member's role (owners)")
async def change_role(
    slug: str, member_id: uuid.UUID, body: MemberUpdate, session: SessionDep, who: OrganiserDep
) -> MemberRead:
    return await members.change_role(session, who, slug, member_id, body.role)


@router.delete(
    TEAM + "/{member_id}",
    status_code=204,
    summary="Remove a member or withdraw an invitation (owners; never the last owner)",
)
async def remove(
    slug: str, member_id: uuid.UUID, session: SessionDep, who: OrganiserDep
) -> Response:
    await members.remove(session, who, slug, member_id)
    return Response(status_code=204)


@router.post(
    "/invitations/accept",
    summary="Accept an invitation by the code from its e-mailed link: an organiser token",
    responses=LINK_EXPIRED,
)
async def accept(body: InvitationAccept, session: SessionDep) -> InvitationAccepted:
    return await members.accept(session, body.code, body.password, body.name)
