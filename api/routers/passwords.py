"""Organisers' passwords: ask for a reset link by e-mail, set a new password with it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.http.deps import SessionDep, SettingsDep
from api.http.problems import ERROR_RESPONSES, LINK_EXPIRED
from api.http.routing import JSONRoute
from festival import passwords
from festival.schemas import PasswordResetAsk, PasswordResetAsked, PasswordSet, TokenReply

router = APIRouter(
    route_class=JSONRoute, prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES
)


@router.post(
    "/password-reset",
    status_code=202,
    response_model=PasswordResetAsked,
    summary="E-mail a link to set an organiser's password (the same 202 for every address)",
)
async def ask(body: PasswordResetAsk, session: SessionDep, settings: SettingsDep) -> JSONResponse:
    detail = await passwords.ask(session, body.email, base_url=settings.base_url)
    return JSONResponse(PasswordResetAsked(detail=detail).model_dump(), status_code=202)


@router.post(
    "/password",
    summary="Set a new password with the code from the e-mailed link; signs in",
    responses=LINK_EXPIRED,
)
async def set_password(body: PasswordSet, session: SessionDep) -> TokenReply:
    return TokenReply(access_token=await passwords.reset(session, body.code, body.password))
