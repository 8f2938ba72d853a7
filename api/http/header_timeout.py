"""uvicorn's HTTP protocol with a deadline for a request's headers.

uvicorn has none: a client that opens a connection and sends nothing, or its
headers a byte at a time (slowloris), holds that connection, one of
``limit_concurrency``, for as long as it likes. Here a connection must finish
each request's headers within ``FESTIVAL_HEADER_TIMEOUT`` seconds (10) of
opening, or of its previous request's reply, or it is closed without a reply.
The clock stops once the headers are in, so a slow upload or a live socket is
not affected (bodies are bounded by size, :mod:`api.http.body_limit`), and an
idle keep-alive connection is uvicorn's ``timeout_keep_alive``'s.

The deadline comes from the environment, as the settings do
(:class:`festival.settings.Settings` validates it): ``festival serve`` names
this class to uvicorn, which makes one per connection in every worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
from functools import cache

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)
DEFAULT_SECONDS = 10.0


@cache
def header_seconds() -> float:
    return float(os.environ.get("FESTIVAL_HEADER_TIMEOUT") or DEFAULT_SECONDS)


class HeadersInTime(HttpToolsProtocol):
    """:class:`HttpToolsProtocol`, closing a connection whose headers are late."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a keep-alive connection's next request
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(header_seconds(), self._late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _late(self) -> None:
        self._deadline = None
        log.debug("closing a connection whose request headers took over %ss", header_seconds())
        self.transport.close()
