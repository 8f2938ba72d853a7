"""Check-in at the door: scan, revert, offline bundle and sync, stats."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.http import answers
from api.http.answers import CheckinOk, CheckinRefused
from api.http.deps import BearerDep, CheckinStaffDep, OrganiserDep, PrincipalDep, SessionDep
from api.http.idempotency import IdempotencyDep
from api.http.problems import ERROR_RESPONSES, PROBLEM
from api.http.routing import JSONRoute
from festival.schemas import Page
from tickets import checkin, devices, offline, reports
from tickets.schemas import (
    CheckinBundle,
    CheckinCreate,
    CheckinReverted,
    CheckinStats,
    DeviceCreate,
    DeviceRead,
    SyncReply,
    SyncRequest,
)

router = APIRouter(
    route_class=JSONRoute, prefix="/api/v1/festivals", tags=["check-in"], responses=ERROR_RESPONSES
)


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
    # the ticket: the door's hot path (see tickets.checkin.check_in). A plain scan
    # is served by the fast lane, with the same call (api.http.fastlane).
    if (replay := await idempotency.replay()) is not None:
        return replay
    token = credentials.credentials if credentials is not None else None
    return await answers.remembered(idempotency, await answers.scan(session, token, slug, body))


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
    "/{slug}/devices",
    status_code=201,
    response_model=DeviceRead,
    summary="Register a scanner device of this check-in token (offline scans sync as it)",
)
async def register_device(
    slug: str,
    body: DeviceCreate,
    session: SessionDep,
    who: CheckinStaffDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    # A scanner on a flaky network retries with its Idempotency-Key: one device.
    async def _register() -> DeviceRead:
        return DeviceRead.model_validate(await devices.register(session, who, slug, body.name))

    return await idempotency.once(201, _register)


@router.get(
    "/{slug}/devices", summary="Scanner devices: all for the organiser, a check-in token's own"
)
async def list_devices(slug: str, session: SessionDep, who: PrincipalDep) -> Page[DeviceRead]:
    found = await devices.listed(session, who, slug)
    return Page(items=[DeviceRead.model_validate(d) for d in found])


@router.delete(
    "/{slug}/devices/{device_id}",
    status_code=204,
    summary="Revoke a scanner device (its offline scans are refused from then on)",
)
async def revoke_device(
    slug: str, device_id: uuid.UUID, session: SessionDep, who: OrganiserDep
) -> Response:
    await devices.revoke(session, who, slug, device_id)
    return Response(status_code=204)


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
        results = await offline.sync(session, who, slug, body.scans)
        return SyncReply(results=answers.sync_results(results))

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
