"""Check-in at the door: scan, revert, offline bundle and sync, stats."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from api.http.deps import BearerDep, PrincipalDep, SessionDep
from api.http.idempotency import IdempotencyDep
from api.http.problems import ERROR_RESPONSES, PROBLEM
from api.http.routing import JSONRoute
from festival.auth import Principal
from festival.errors import Forbidden
from tickets import checkin, offline, reports
from tickets.checkin import ScanOutcome
from tickets.schemas import (
    CheckinBundle,
    CheckinCreate,
    CheckinOk,
    CheckinRefused,
    CheckinReverted,
    CheckinStats,
    SyncReply,
    SyncRequest,
)

router = APIRouter(
    route_class=JSONRoute, prefix="/api/v1/festivals", tags=["check-in"], responses=ERROR_RESPONSES
)


async def _checkin_staff(principal: PrincipalDep) -> Principal:
    if not (principal.kind == "staff" and principal.role == "checkin"):
        raise Forbidden("Only check-in staff may do this")
    return principal


CheckinStaffDep = Annotated[Principal, Depends(_checkin_staff)]


async def _reply(idempotency: IdempotencyDep, outcome: ScanOutcome) -> JSONResponse:
    response = await idempotency.respond(outcome.status, outcome.body)
    if outcome.status >= 400:
        response.headers["content-type"] = PROBLEM
    return response


@router.post(
    "/{slug}/checkins",
    status_code=201,
    summary="Check a scanned ticket in (201 ok, 409 already checked in, 422 refused)",
    response_model=CheckinOk,
    responses={
        409: {"model": CheckinRefused, "content": {PROBLEM: {}}},
        422: {"model": CheckinRefused, "content": {PROBLEM: {}}},
    },
)
async def check_in(
    slug: str,
    body: CheckinCreate,
    session: SessionDep,
    idempotency: IdempotencyDep,
    credentials: BearerDep,
) -> JSONResponse:
    # The token is resolved by the domain, in the same read as the festival and
    # the ticket: the door's hot path (see tickets.checkin.check_in).
    if (replay := await idempotency.replay()) is not None:
        return replay
    token = credentials.credentials if credentials is not None else None
    outcome = await checkin.check_in(session, token, slug, body.qr, body.list, body.gate)
    return await _reply(idempotency, outcome)


@router.delete(
    "/{slug}/checkins/{checkin_id}",
    response_model=CheckinReverted,
    summary="Revert a check-in (a new history entry; the ticket may be scanned again)",
)
async def revert(
    slug: str, checkin_id: uuid.UUID, session: SessionDep, who: CheckinStaffDep
) -> dict[str, object]:
    return await checkin.revert(session, who, slug, checkin_id)


@router.get(
    "/{slug}/checkin-bundle", summary="Public key and revoked payloads for offline scanners"
)
async def bundle(slug: str, session: SessionDep, who: CheckinStaffDep) -> CheckinBundle:
    return await offline.bundle(session, who, slug)


@router.post(
    "/{slug}/checkins/sync",
    response_model=SyncReply,
    summary="Upload offline scans; one result per scan, in order",
)
async def sync(
    slug: str,
    body: SyncRequest,
    session: SessionDep,
    who: CheckinStaffDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    async def _sync() -> SyncReply:
        return SyncReply(results=await offline.sync(session, who, slug, body.scans))

    return await idempotency.once(200, _sync)


@router.get("/{slug}/checkins/stats", summary="Check-ins per list, arrivals per 15 minutes")
async def stats(slug: str, session: SessionDep, who: PrincipalDep) -> CheckinStats:
    return await reports.stats(session, who, slug)


@router.get(
    "/{slug}/checkins/arrivals.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
    summary="Arrivals per 15 minutes as a chart",
)
async def arrivals_svg(slug: str, session: SessionDep, who: PrincipalDep) -> Response:
    return Response(await reports.arrivals_svg(session, who, slug), media_type="image/svg+xml")
