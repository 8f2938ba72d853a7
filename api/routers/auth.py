"""Organiser sign-in."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.http.client_address import ClientAddressDep
from api.http.deps import SessionDep
from api.http.idempotency import IdempotencyDep
from api.http.limits import LimiterDep, too_many
from api.http.problems import ERROR_RESPONSES
from api.http.routing import JSONRoute
from festival.auth import sign_in
from festival.schemas import TokenReply, TokenRequest

router = APIRouter(
    route_class=JSONRoute, prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES
)


@router.post(
    "/token",
    summary="Exchange an organiser's e-mail and password for a token",
    response_model=TokenReply,
    responses=too_many("Too many failed sign-ins, for this account or from this address"),
)
async def token(
    body: TokenRequest,
    session: SessionDep,
    idem: IdempotencyDep,
    limiter: LimiterDep,
    address: ClientAddressDep,
) -> JSONResponse:
    async def _sign_in() -> TokenReply:
        raw = await sign_in(session, body.email, body.password, limiter=limiter, address=address)
        return TokenReply(access_token=raw)

    return await idem.once(200, _sign_in)
