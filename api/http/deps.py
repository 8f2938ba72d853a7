"""Request dependencies: the unit of work, the principal and permission aliases.

How a bearer token is read from a request is :func:`bearer_token`'s alone: the
routes' ``BearerDep`` and the fast lanes (:mod:`api.http.fastlane`) both call it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from festival import effects
from festival.auth import Principal, resolve_principal
from festival.errors import Forbidden, Unauthorized
from festival.settings import Settings
from tickets.checkin import ensure_checkin_staff


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (the scheme in any
    case, the token stripped, as FastAPI's ``HTTPBearer`` reads it); None without
    one or for another scheme."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


class _Bearer(HTTPBearer):
    """``HTTPBearer`` (the security scheme in OpenAPI), reading the header with
    :func:`bearer_token`."""

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            return None
        return HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)


bearer = _Bearer(
    auto_error=False,
    scheme_name="HTTPBearer",
    description="An organiser, staff or attendee token",
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request, one unit of work: commit on success, roll back on any error.

    The commit happens before the reply is sent (dependency exit with
    ``scope="function"``), so a client never hears of a change that is not
    durable, and after-commit effects run only for committed work.
    """
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await effects.rollback(session)
            raise
        await effects.commit(session)


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A unit of work for routes that only read: rolled back, never committed.

    On SQLite it begins DEFERRED (see ``festival.db.READ_ONLY``), so busy public
    reads (programme, feeds) run side by side instead of queueing for the write
    lock. Anything written through it is discarded.
    """
    from festival.db import READ_ONLY

    async with request.app.state.sessionmaker() as session:
        try:
            # Options on the connection (not a per-request engine copy, which is slow).
            await session.connection(execution_options={READ_ONLY: True})
            yield session
        finally:
            await session.rollback()


ReadSessionDep = Annotated[AsyncSession, Depends(_read_session, scope="function")]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]


async def _optional_principal(session: SessionDep, credentials: BearerDep) -> Principal | None:
    return await _bearer_principal(session, credentials)


MaybePrincipalDep = Annotated[Principal | None, Depends(_optional_principal)]


async def _optional_reader(session: ReadSessionDep, credentials: BearerDep) -> Principal | None:
    return await _bearer_principal(session, credentials)


async def _bearer_principal(
    session: AsyncSession, credentials: HTTPAuthorizationCredentials | None
) -> Principal | None:
    if credentials is None:
        return None
    return await resolve_principal(session, credentials.credentials)


# For read-only routes: the token is read in the route's own read-only unit of
# work, so a request holds one database connection, never two (a pool without
# overflow would otherwise deadlock under load: every request holding one
# connection and waiting for its second).
MaybeReaderDep = Annotated[Principal | None, Depends(_optional_reader)]


async def _principal(principal: MaybePrincipalDep) -> Principal:
    if principal is None:
        raise Unauthorized("A bearer token is required")
    return principal


PrincipalDep = Annotated[Principal, Depends(_principal)]


async def _organiser(principal: PrincipalDep) -> Principal:
    if not principal.is_organiser:
        raise Forbidden("Only organisers may do this")
    return principal


OrganiserDep = Annotated[Principal, Depends(_organiser)]


async def _attendee(principal: PrincipalDep) -> Principal:
    if principal.kind != "attendee":
        raise Forbidden("Only an attendee token may do this")
    return principal


AttendeeDep = Annotated[Principal, Depends(_attendee)]


async def _checkin_staff(principal: PrincipalDep) -> Principal:
    return ensure_checkin_staff(principal)


CheckinStaffDep = Annotated[Principal, Depends(_checkin_staff)]

LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size")]
CursorQuery = Annotated[str | None, Query(max_length=500, description="From a reply's next_cursor")]
