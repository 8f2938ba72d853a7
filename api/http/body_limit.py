"""A ceiling on request bodies, enforced before they are read.

Without it, a 10 MB JSON body with a garbage token was read and parsed in full
before the token was looked at. This pure ASGI middleware sits outside
everything that reads a body (the fast lanes, the routes), and answers ``413``
problem JSON (``code: body_too_large``, with ``max_bytes``):

- from ``Content-Length`` alone, when it says more than the limit: nothing of
  the body is read (uvicorn then discards what the client still sends, a chunk
  at a time, so the process's memory does not grow with it);
- while the body streams in, when there is no length (``Transfer-Encoding:
  chunked``): the read that passes the limit fails, and whatever the app made
  of that failure is replaced by the 413, unless its reply had already begun.

The limit is ``FESTIVAL_MAX_BODY_BYTES`` (1 MiB by default); a route that takes
files (the programme import) is given a larger one by the app (``larger``).
A route's own, smaller checks (the fast lanes' 16 KiB) still apply inside.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.problems import problem

MIB = 1024 * 1024


class BodyTooLarge(Exception):
    """Raised by the counting ``receive`` when the body passes the limit."""


def _size(limit: int) -> str:
    if limit % MIB == 0:
        return f"{limit // MIB} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


def too_large(limit: int) -> ASGIApp:
    return problem(
        413,
        "body_too_large",
        "Request body too large",
        f"The request body is larger than {_size(limit)}, the most this address takes",
        max_bytes=limit,
    )


def _declared_length(scope: Scope) -> int | None:
    """The body's ``Content-Length`` (None without one, or with a transfer coding,
    when the length is whatever the chunks add up to)."""
    length = None
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None  # the server refuses it before the app sees it
    return length


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` (or a path's larger limit) with 413."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: Iterable[tuple[str, int]] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # (path pattern, limit): a pattern is a route template, ``{name}`` one segment.
        self.larger = [
            (re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path))), max(limit, max_bytes))
            for path, limit in larger
        ]

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.larger:
            if pattern.fullmatch(path):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        length = _declared_length(scope)
        if length is not None:
            if length > limit:
                await too_large(limit)(scope, receive, send)
            else:  # the server reads no more than the length says
                await self.app(scope, receive, send)
            return
        await self._streamed(scope, receive, send, limit)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        refused = started = False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # the app's answer to the failed read: the 413 goes instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not refused or started:
                raise
        if refused and not started:
            await too_large(limit)(scope, receive, send)
