"""The attendee's way in on another device: sign-in links and the devices signed in."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Request, Response

from api.http.answers import letters_allowed
from api.http.client_address import ClientAddressDep
from api.http.deps import AttendeeDep, ReadSessionDep, SessionDep, SettingsDep
from api.http.limits import LimiterDep, too_many
from api.http.problems import ERROR_RESPONSES, LINK_EXPIRED
from api.http.routing import JSONRoute
from festival.db import utcnow
from festival.limits import ACCESS_LINK_ADDRESS, address_key
from tickets import sign_in
from tickets.schemas import AccessLinkAsk, AccessLinkSent, AttendeeDevice, AttendeeSignIn, SignedIn

router = APIRouter(
    route_class=JSONRoute, prefix="/api/v1", tags=["sign-in"], responses=ERROR_RESPONSES
)


@router.post(
    "/festivals/{slug}/access-links",
    status_code=202,
    summary="E-mail me a sign-in link (the same reply for every address)",
    responses=too_many("Too many links asked for from this address for this festival"),
)
async def access_link(
    slug: str,
    body: AccessLinkAsk,
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    address: ClientAddressDep,
    later: BackgroundTasks,
) -> AccessLinkSent:
    await limiter.take(
        "Too many sign-in links asked for from this address",
        (ACCESS_LINK_ADDRESS, f"{slug}|{address_key(address)}"),
    )
    festival = await sign_in.festival_of(session, slug)
    # After the reply: neither its body nor its time says whether the address is known.
    later.add_task(
        sign_in.send_link,
        request.app.state.sessionmaker,
        festival.id,
        str(body.email),
        base_url=settings.base_url,
        may_write=letters_allowed(limiter, slug),
    )
    return AccessLinkSent(detail=sign_in.SENT)


@router.post(
    "/auth/attendee",
    status_code=201,
    summary="Sign this device in with the code from an e-mailed link",
    responses=LINK_EXPIRED,
)
async def attendee(body: AttendeeSignIn, session: SessionDep) -> SignedIn:
    return await sign_in.sign_in(session, body.code, body.device, utcnow())


@router.get("/me/devices", summary="The devices signed in to my registration")
async def devices(session: ReadSessionDep, who: AttendeeDep) -> list[AttendeeDevice]:
    return await sign_in.devices(session, who)


@router.delete("/me/devices/{token_id}", status_code=204, summary="Sign a device out")
async def end_device(token_id: uuid.UUID, session: SessionDep, who: AttendeeDep) -> Response:
    await sign_in.end_device(session, who, token_id)
    return Response(status_code=204)
