"""Personal data: an attendee's export and erasure, by themselves or by an organiser;
consent; the festival's privacy log."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Response

from api.http.deps import AttendeeDep, OrganiserDep, SessionDep
from api.http.problems import ERROR_RESPONSES
from api.http.routing import JSONRoute
from festival.schemas import Page
from tickets import consent, privacy
from tickets.schemas import ConsentGiven, ConsentRead

router = APIRouter(
    route_class=JSONRoute, prefix="/api/v1", tags=["personal data"], responses=ERROR_RESPONSES
)
EXPORT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}}, "description": "The data, as a file"}
}
ONE = "/festivals/{slug}/registrations/{registration_id}"


def _file(data: dict[str, Any], name: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/me/export",
    response_class=Response,
    responses=EXPORT,
    summary="Everything Festival holds about me, as JSON (GDPR Art. 15 and 20)",
)
async def export_me(session: SessionDep, who: AttendeeDep) -> Response:
    return _file(await privacy.export_me(session, who), "my-festival-data.json")


@router.delete(
    "/me",
    status_code=204,
    summary="Erase my data (GDPR Art. 17); my tokens stop working",
)
async def erase_me(session: SessionDep, who: AttendeeDep) -> Response:
    await privacy.erase_me(session, who)
    return Response(status_code=204)


@router.get("/me/consent", summary="The festival's terms and what I agreed to")
async def read_consent(session: SessionDep, who: AttendeeDep) -> ConsentRead:
    return await consent.read(session, who)


@router.put("/me/consent", summary="Agree to the current terms; photo and contact choices")
async def give_consent(body: ConsentGiven, session: SessionDep, who: AttendeeDep) -> ConsentRead:
    return await consent.record(session, who, body)


@router.get(
    ONE + "/export",
    response_class=Response,
    responses=EXPORT,
    summary="One attendee's data, as JSON (owners and registrations; logged)",
)
async def export_attendee(
    slug: str, registration_id: uuid.UUID, session: SessionDep, who: OrganiserDep
) -> Response:
    data = await privacy.export_attendee(session, who, slug, registration_id)
    return _file(data, f"{slug}-{registration_id}.json")


@router.delete(
    ONE,
    status_code=204,
    summary="Erase one attendee's data (owners and registrations; logged)",
)
async def erase_attendee(
    slug: str, registration_id: uuid.UUID, session: SessionDep, who: OrganiserDep
) -> Response:
    await privacy.erase_attendee(session, who, slug, registration_id)
    return Response(status_code=204)


@router.get("/festivals/{slug}/privacy-log", summary="Exports, erasures and purges (owners)")
async def privacy_log(slug: str, session: SessionDep, who: OrganiserDep) -> Page[dict[str, Any]]:
    return Page(items=await privacy.log_entries(session, who, slug))
