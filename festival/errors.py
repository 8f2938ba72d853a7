"""One error vocabulary for every domain.

Domain code raises these; the API renders them as RFC 9457 problem JSON and the
websocket as error frames. None of them knows about HTTP beyond a status number.
"""

from __future__ import annotations

from typing import Any


class FestivalError(Exception):
    """A failure a user can act on: a code, a status, a title, a detail, extras."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        title: str | None = None,
        status: int | None = None,
        field: str | None = None,
        **extras: Any,
    ) -> None:
        super().__init__(detail)
        if field is not None:
            extras.setdefault("errors", [{"field": field, "message": detail}])
        self.detail = detail
        if code is not None:
            self.code = code
        if title is not None:
            self.title = title
        if status is not None:
            self.status = status
        self.extras: dict[str, Any] = extras


class Unauthorized(FestivalError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"


class Forbidden(FestivalError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class NotFound(FestivalError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(FestivalError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Invalid(FestivalError):
    """Input that is well-formed but breaks a rule; ``field`` names the culprit."""

    status = 422
    code = "invalid"
    title = "Invalid input"


class RateLimited(FestivalError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


class TooManyRequests(RateLimited):
    """A limit that lifts by itself: ``retry_after`` says in how many whole seconds.

    The API answers it as ``429`` with a ``Retry-After`` header and a
    ``retry_after`` member. What is counted, and how much is allowed, is in
    :mod:`festival.limits`.
    """

    def __init__(self, detail: str, *, retry_after: int, **extras: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extras)
        self.retry_after = retry_after


class Gone(FestivalError):
    """What a link or code stood for is over (used, expired): ask for a new one."""

    status = 410
    code = "gone"
    title = "No longer valid"


class Unavailable(FestivalError):
    """Something the action needs is away for a moment (a broker, say): nothing was
    done, and the same request may succeed shortly."""

    status = 503
    code = "unavailable"
    title = "Temporarily unavailable"
