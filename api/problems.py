"""RFC 9457 problem JSON for every error the app answers with."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from festival.errors import FestivalError

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


def problem(status: int, code: str, title: str, detail: str, **extras: Any) -> JSONResponse:
    body = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail}
    body["code"] = code
    body.update(extras)
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "")


def install(app: FastAPI) -> None:
    @app.exception_handler(FestivalError)
    async def _domain(_: Request, exc: FestivalError) -> JSONResponse:
        return problem(exc.status, exc.code, exc.title, exc.detail, **exc.extras)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid request"
        return problem(422, "validation_failed", "Invalid input", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Authentication required"}
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = problem(
            exc.status_code, code, titles.get(exc.status_code, "Error"), str(exc.detail)
        )
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
