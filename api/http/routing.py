"""Routes whose body is JSON: a body of any other media type is 415, not a confusing 422.

FastAPI parses a body as JSON only when its ``Content-Type`` says JSON, and
otherwise hands the raw bytes to validation, which answers "Input should be a
valid dictionary". :class:`JSONRoute` answers such a request first, before any
dependency runs (so before authentication and before an ``Idempotency-Key`` is
claimed), with a problem that names the type expected. A body without any
``Content-Type`` is refused the same way: FastAPI would not read it as JSON either.
The fast lanes (:mod:`api.http.fastlane`) send every such request on to the route, so
both answer alike.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response, params
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from api.http.problems import PROBLEM, Problem, problem

JSON = "application/json"
_AS_PROBLEM: dict[str, Any] = {"content": {PROBLEM: {}}}
_ACCEPT_HEADER = {"POST": "Accept-Post", "PATCH": "Accept-Patch"}

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def is_json(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` value is JSON: ``application/json`` or ``application/*+json``,
    any parameters (``charset``) aside. FastAPI reads a body as JSON on the same rule."""
    if content_type is None:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == JSON or (kind.startswith("application/") and kind.endswith("+json"))


def unsupported_media_type(method: str, content_type: str | None) -> JSONResponse:
    given = f"it was sent as {content_type!r}" if content_type else "it was sent without one"
    response = problem(
        415,
        "unsupported_media_type",
        "Unsupported media type",
        f"The body must be JSON, sent with Content-Type: {JSON}; {given}",
        expected_content_type=JSON,
    )
    if method in _ACCEPT_HEADER:
        response.headers[_ACCEPT_HEADER[method]] = JSON
    return response


class JSONRoute(APIRoute):
    """An API route that refuses a body that is not JSON with ``415 Unsupported Media Type``.

    A route without a body (or with a form body) is served as FastAPI serves it.
    An empty body passes, whatever its type, for validation to call it missing.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self._takes_json():
            self.responses = {
                **self.responses,
                415: {
                    "model": Problem,
                    "description": "The body is not JSON",
                    "content": {PROBLEM: {}},
                },
            }

    def _takes_json(self) -> bool:
        field = self.body_field
        return field is not None and not isinstance(field.field_info, params.Form)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if not self._takes_json():
            return handler

        async def json_only(request: Request) -> Response:
            content_type = request.headers.get("content-type")
            if not is_json(content_type) and await request.body():
                return unsupported_media_type(request.method, content_type)
            return await handler(request)

        return json_only
