"""RFC 9457 problem JSON for every error the app answers with.

:func:`problem_body` is the one place a problem's body is written, and the
handlers :func:`install` registers are the one place an exception becomes a
reply: the routes get them from Starlette's exception middleware, and the fast
lanes (:mod:`api.http.fastlane`) look the same handlers up. What the door and
the registration desk answer without an exception (a refused scan, say) is
shaped in :mod:`api.http.answers`, with :func:`problem_body` too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from festival.errors import FestivalError, TooManyRequests

log = logging.getLogger("festival.api")
PROBLEM = "application/problem+json"
TYPE_BASE = "https://festival.invalid/problems/"


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """The shape of every error reply."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = None


def problem_body(status: int, code: str, title: str, detail: str, **extras: Any) -> dict[str, Any]:
    """A problem's members (``type`` named by ``code``), then ``code`` and ``extras``."""
    body = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail}
    body["code"] = code
    body.update(extras)
    return body


def problem(status: int, code: str, title: str, detail: str, **extras: Any) -> JSONResponse:
    body = problem_body(status, code, title, detail, **extras)
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def problem_for(exc: FestivalError) -> JSONResponse:
    """A domain error as problem JSON, with the status of its family (and for a
    limit that lifts by itself, ``Retry-After`` in seconds)."""
    response = problem(exc.status, exc.code, exc.title, exc.detail, **exc.extras)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "")


def message(error: Mapping[str, Any]) -> str:
    """A pydantic error's message for people: without pydantic's "Value error, " before
    the text of a validator's ``ValueError``."""
    return str(error.get("msg", "")).removeprefix("Value error, ")


def _field_error(error: Mapping[str, Any], body: Any) -> dict[str, str]:
    if error.get("type") == "json_invalid":
        # FastAPI's loc for a body that is not JSON is ("body", <character offset>).
        loc = tuple(error.get("loc", ()))
        offset = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
        reason = str(error.get("ctx", {}).get("error", "")) or "Not valid JSON"
        return {"field": "body", "message": _where(reason, body, offset)}
    return {"field": _field(tuple(error.get("loc", ()))), "message": message(error)}


def _where(reason: str, document: Any, offset: int | None) -> str:
    """``reason`` with the line and column of ``offset`` in ``document``, as ``json`` says it."""
    if offset is None or not isinstance(document, str):
        return reason
    line = document.count("\n", 0, offset) + 1
    column = offset - document.rfind("\n", 0, offset)
    return f"{reason} at line {line}, column {column}"


def validation_problem(errors: list[dict[str, str]]) -> JSONResponse:
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid request"
    return problem(422, "validation_failed", "Invalid input", detail, errors=errors)


def _undecodable(exc: BaseException) -> JSONResponse | None:
    """The problem for a JSON body whose bytes are not text (FastAPI's bare 400)."""
    cause = exc.__cause__
    if not isinstance(cause, UnicodeDecodeError):
        return None
    reason = f"Not valid {cause.encoding.upper()}: {cause.reason} at byte {cause.start}"
    return validation_problem([{"field": "body", "message": reason}])


def _phrase(status: int) -> str:
    """The status's reason phrase as a title ("Bad request"), never a bare "Error"."""
    try:
        return HTTPStatus(status).phrase.capitalize()
    except ValueError:
        return "Error"


def database_lost(exc: DBAPIError) -> bool:
    """Whether ``exc`` says the database went away (a restart, a dropped connection),
    as opposed to refusing the statement."""
    if exc.connection_invalidated:
        return True
    cause: BaseException | None = exc.orig
    while cause is not None:
        if isinstance(cause, OSError) or type(cause).__name__ in _LOST:
            return True
        cause = cause.__cause__
    return False


# asyncpg's names for a server that is going or coming back.
_LOST = frozenset({"CannotConnectNowError", "ConnectionDoesNotExistError", "AdminShutdownError"})


_RAW_LOST: tuple[type[Exception], ...] = (
    ConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.InterfaceError,
)


def install(app: FastAPI) -> None:
    @app.exception_handler(FestivalError)
    async def _domain(_: Request, exc: FestivalError) -> JSONResponse:
        return problem_for(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem([_field_error(e, exc.body) for e in exc.errors()])

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and (undecodable := _undecodable(exc)) is not None:
            return undecodable
        titles = {404: "Not found", 405: "Method not allowed", 401: "Authentication required"}
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        title = titles.get(exc.status_code) or _phrase(exc.status_code)
        response = problem(exc.status_code, code, title, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # A uniqueness or reference race lost to a concurrent request: the state
        # changed under us, which is a conflict for the client, not a server fault.
        log.info("integrity error answered as 409: %s", exc.orig)
        return problem(
            409, "conflict", "Conflict", "The request conflicts with a concurrent change; retry"
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DBAPIError) and not database_lost(exc):
            return await _unexpected(request, exc)
        # The server restarted or the connection dropped under this request: its
        # transaction did not commit (or, if it died at the commit, the retry meets
        # the result: a 409 for a registration, "already checked in" at the door).
        log.warning("the database connection was lost under a request: %s", exc)
        response = problem(
            503,
            "database_unavailable",
            "Database unavailable",
            "The database connection was lost while answering; retry in a moment",
            retry_after=1,
        )
        response.headers["Retry-After"] = "1"
        return response

    # Statements prepared on the driver (festival.db.Prepared) raise asyncpg's own
    # errors, and a socket reset under it is a bare ConnectionError.
    for lost in _RAW_LOST:
        app.add_exception_handler(lost, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        log.error("unhandled error, request id %s", request_id, exc_info=exc)
        return problem(
            500,
            "internal_error",
            "Internal error",
            f"Something went wrong on our side. Request id: {request_id}",
            request_id=request_id,
        )


# A route that redeems an e-mailed one-time code: used, expired or unknown is 410.
LINK_EXPIRED: dict[int | str, dict[str, Any]] = {
    410: {
        "model": Problem,
        "description": "The link was used or has expired",
        "content": {PROBLEM: {}},
    }
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text, "content": {PROBLEM: {}}}
    for status, text in {
        401: "No valid token",
        403: "The token may not do this",
        404: "Not found, or not visible to the caller",
        409: "Conflicts with the current state",
        422: "Invalid input",
    }.items()
}
