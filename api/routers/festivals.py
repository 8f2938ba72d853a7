"""Festivals and their staff tokens."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.http.deps import CursorQuery, LimitQuery, MaybePrincipalDep, OrganiserDep, SessionDep
from api.http.idempotency import IdempotencyDep
from api.http.problems import ERROR_RESPONSES
from api.http.routing import JSONRoute
from festival import service, staff
from festival.models import Festival
from festival.schemas import (
    FestivalCreate,
    FestivalRead,
    FestivalUpdate,
    Page,
    StaffTokenCreate,
    StaffTokenIssued,
    StaffTokenRead,
)
from schedule import staff as scoped_staff

router = APIRouter(
    route_class=JSONRoute, prefix="/api/v1/festivals", tags=["festivals"], responses=ERROR_RESPONSES
)


def _read(festival: Festival) -> FestivalRead:
    return FestivalRead.model_validate(festival)


@router.post("", status_code=201, summary="Create a festival", response_model=FestivalRead)
async def create(
    body: FestivalCreate, session: SessionDep, who: OrganiserDep, idem: IdempotencyDep
) -> JSONResponse:
    async def _create() -> FestivalRead:
        return _read(await service.create_festival(session, who, body))

    return await idem.once(201, _create)


@router.get("", summary="Published festivals, plus the caller's own")
async def list_(
    session: SessionDep, who: MaybePrincipalDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[FestivalRead]:
    rows, next_cursor = await service.list_festivals(session, who, limit=limit, cursor=cursor)
    return Page(items=[_read(f) for f in rows], next_cursor=next_cursor)


@router.get("/{slug}", summary="One festival")
async def read(slug: str, session: SessionDep, who: MaybePrincipalDep) -> FestivalRead:
    return _read(await service.get_festival(session, who, slug))


@router.patch("/{slug}", summary="Change a festival")
async def update(
    slug: str, body: FestivalUpdate, session: SessionDep, who: OrganiserDep
) -> FestivalRead:
    return _read(await service.update_festival(session, who, slug, body))


@router.post("/{slug}/publish", summary="Publish the festival and its programme")
async def publish(slug: str, session: SessionDep, who: OrganiserDep) -> FestivalRead:
    return _read(await service.publish_festival(session, who, slug))


@router.post(
    "/{slug}/staff-tokens",
    status_code=201,
    summary="Issue a staff token (shown once)",
    response_model=StaffTokenIssued,
)
async def issue_staff_token(
    slug: str, body: StaffTokenCreate, session: SessionDep, who: OrganiserDep, idem: IdempotencyDep
) -> JSONResponse:
    async def _issue() -> StaffTokenIssued:
        token, raw = await scoped_staff.issue_staff_token(session, who, slug, body)
        return StaffTokenIssued(**StaffTokenRead.model_validate(token).model_dump(), token=raw)

    return await idem.once(201, _issue)


@router.get("/{slug}/staff-tokens", summary="Staff tokens of a festival (without secrets)")
async def list_staff_tokens(
    slug: str,
    session: SessionDep,
    who: OrganiserDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[StaffTokenRead]:
    tokens, next_cursor = await staff.list_staff_tokens(
        session, who, slug, limit=limit, cursor=cursor
    )
    return Page(items=[StaffTokenRead.model_validate(t) for t in tokens], next_cursor=next_cursor)


@router.delete("/{slug}/staff-tokens/{token_id}", status_code=204, summary="Revoke a staff token")
async def revoke_staff_token(
    slug: str, token_id: uuid.UUID, session: SessionDep, who: OrganiserDep
) -> Response:
    await staff.revoke_staff_token(session, who, slug, token_id)
    return Response(status_code=204)
