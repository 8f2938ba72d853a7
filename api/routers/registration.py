"""Registration, the attendee's own routes (``/me``) and the organiser's lists."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from api.http import answers
from api.http.client_address import ClientAddressDep
from api.http.deps import (
    AttendeeDep,
    CursorQuery,
    LimitQuery,
    MaybeReaderDep,
    OrganiserDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
)
from api.http.idempotency import IdempotencyDep
from api.http.limits import LimiterDep, too_many
from api.http.problems import ERROR_RESPONSES, LINK_EXPIRED
from api.http.routing import JSONRoute
from festival.db import utcnow
from festival.schemas import Page
from tickets import (
    agenda,
    attendees,
    confirmation,
    participation,
    qr,
    registration,
    reports,
    seats,
)
from tickets import occupancy as occupancy_of
from tickets.reports import RegistrationStatus
from tickets.schemas import (
    FeedToken,
    MeRead,
    MeUpdate,
    RegistrationConfirm,
    RegistrationCreate,
    RegistrationIssued,
    RegistrationPending,
    RegistrationRead,
    SeatRead,
    SessionOccupancy,
    TicketRead,
)

router = APIRouter(
    route_class=JSONRoute, prefix="/api/v1", tags=["registration"], responses=ERROR_RESPONSES
)
CSV = "text/csv; charset=utf-8"


@router.post(
    "/festivals/{slug}/registrations",
    status_code=201,
    response_model=RegistrationIssued,
    summary="Register (confirmed while places remain, else waitlisted)",
    responses={
        202: {
            "model": RegistrationPending,
            "description": "The festival confirms addresses: the same reply for every "
            "address, and a link by e-mail (POST /registrations/confirm)",
        },
        **too_many("Too many registrations from this address for this festival"),
    },
)
async def register(
    slug: str,
    body: RegistrationCreate,
    session: SessionDep,
    idempotency: IdempotencyDep,
    limiter: LimiterDep,
    address: ClientAddressDep,
    settings: SettingsDep,
) -> JSONResponse:
    # A plain registration is served by the fast lane, with the same call (api.http.fastlane).
    if (replay := await idempotency.replay()) is not None:
        return replay
    reply = await answers.register(
        session, slug, body, limiter=limiter, address=address, base_url=settings.base_url
    )
    return await answers.remembered(idempotency, reply)


@router.post(
    "/registrations/confirm",
    status_code=201,
    response_model=RegistrationIssued,
    summary="Confirm a registration by the code from its e-mailed link",
    responses=LINK_EXPIRED,
)
async def confirm(body: RegistrationConfirm, session: SessionDep) -> RegistrationIssued:
    return await confirmation.confirm(session, body.code, utcnow())


@router.get(
    "/festivals/{slug}/occupancy", summary="How full each on-site session with seats is (counts)"
)
async def occupancy(
    slug: str, session: ReadSessionDep, who: MaybeReaderDep
) -> list[SessionOccupancy]:
    return await occupancy_of.of_festival(session, who, slug)


@router.get("/festivals/{slug}/registrations", summary="Registrations of a festival")
async def list_registrations(
    slug: str,
    session: SessionDep,
    who: OrganiserDep,
    status: RegistrationStatus | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[RegistrationRead]:
    rows, next_cursor = await reports.list_registrations(
        session, who, slug, status=status, limit=limit, cursor=cursor
    )
    return Page(items=[RegistrationRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/festivals/{slug}/attendees.csv",
    response_class=Response,
    responses={200: {"content": {CSV: {}}}},
    summary="Registrations that are not cancelled, as CSV",
)
async def attendees_csv(slug: str, session: SessionDep, who: OrganiserDep) -> Response:
    text = await reports.attendees_csv(session, who, slug)
    headers = {"Content-Disposition": f'attachment; filename="{slug}-attendees.csv"'}
    return Response(text, media_type=CSV, headers=headers)


@router.get("/me", summary="My registration, ticket, seats and favourites")
async def me(session: SessionDep, who: AttendeeDep) -> MeRead:
    return await attendees.me(session, who)


@router.patch("/me", summary="Change my registration's settings (reminders)")
async def update_me(body: MeUpdate, session: SessionDep, who: AttendeeDep) -> MeRead:
    return await participation.update_me(session, who, body)


@router.delete("/me/registration", status_code=204, summary="Cancel my registration")
async def cancel(session: SessionDep, who: AttendeeDep) -> Response:
    await registration.cancel(session, who)
    return Response(status_code=204)


@router.get(
    "/me/ticket.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
    summary="My ticket's QR code as PNG",
)
async def ticket_png(session: SessionDep, who: AttendeeDep) -> Response:
    return Response(await qr.ticket_image(session, who, "png"), media_type="image/png")


@router.get(
    "/me/ticket.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
    summary="My ticket's QR code as SVG",
)
async def ticket_svg(session: SessionDep, who: AttendeeDep) -> Response:
    return Response(await qr.ticket_image(session, who, "svg"), media_type="image/svg+xml")


@router.post(
    "/me/ticket/reissue",
    summary="Reissue my ticket (the old QR code stops working)",
    response_model=TicketRead,
)
async def reissue(session: SessionDep, who: AttendeeDep, idem: IdempotencyDep) -> JSONResponse:
    return await idem.once(200, lambda: registration.reissue(session, who))


@router.put("/me/seats/{session_id}", summary="Reserve a seat (full: waitlisted)")
async def reserve_seat(session_id: uuid.UUID, session: SessionDep, who: AttendeeDep) -> SeatRead:
    return await seats.reserve(session, who, session_id)


@router.delete("/me/seats/{session_id}", status_code=204, summary="Release a seat")
async def release_seat(session_id: uuid.UUID, session: SessionDep, who: AttendeeDep) -> Response:
    await seats.release(session, who, session_id)
    return Response(status_code=204)


@router.put("/me/favourites/{session_id}", status_code=204, summary="Favourite a session")
async def add_favourite(session_id: uuid.UUID, session: SessionDep, who: AttendeeDep) -> Response:
    await seats.add_favourite(session, who, session_id)
    return Response(status_code=204)


@router.delete("/me/favourites/{session_id}", status_code=204, summary="Unfavourite a session")
async def remove_favourite(
    session_id: uuid.UUID, session: SessionDep, who: AttendeeDep
) -> Response:
    await seats.remove_favourite(session, who, session_id)
    return Response(status_code=204)


@router.get(
    "/me/agenda.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
    summary="My reserved and favourite sessions as an iCal feed (feed token in ?token=)",
)
async def agenda_ics(
    session: SessionDep, settings: SettingsDep, token: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    body = await agenda.agenda_ics(session, token, settings.base_url)
    return Response(body, media_type="text/calendar; charset=utf-8")


@router.post(
    "/me/feed-token",
    status_code=201,
    summary="A new feed token (the old one stops)",
    response_model=FeedToken,
)
async def rotate_feed_token(
    session: SessionDep, who: AttendeeDep, idem: IdempotencyDep
) -> JSONResponse:
    async def _rotate() -> FeedToken:
        return FeedToken(feed_token=await agenda.rotate_feed_token(session, who))

    return await idem.once(201, _rotate)


@router.delete("/me/feed-token", status_code=204, summary="Revoke my feed token")
async def revoke_feed_token(session: SessionDep, who: AttendeeDep) -> Response:
    await agenda.revoke_feed_tokens(session, who)
    return Response(status_code=204)
