"""The browser-facing headers of every reply: no referrer, a strict CSP, no framing, no sniffing.

Pages take their token from a magic link and keep it in ``localStorage`` (see
:mod:`api.routers.pages`), so what guards a token in the browser is what the
browser may do with a page:

- ``Referrer-Policy: no-referrer``: a link followed from a page (a stream URL,
  a speaker's site) never carries the page's address, whose query may still
  hold the magic link's ``?token=`` for the moment before the page removes it;
- ``Content-Security-Policy``: a page runs only the app's own module scripts
  (``script-src 'self'``, no inline script or ``eval``), takes styles only
  from the app's stylesheet (no ``style=`` in the markup; the scripts set
  styles through the CSSOM), and talks only to its own origin (``connect-src
  'self'`` covers the live socket on the same host); any other reply (problem
  JSON, calendars, the ticket's SVG) gets ``default-src 'none'``, so even an
  SVG or HTML-looking body opened directly runs nothing;
- ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``: no page can be
  framed (clickjacking a moderator's *Dismiss*), except the projector page
  (``/present/…``) by the origins in ``FESTIVAL_FRAME_ANCESTORS``, for a
  streaming overlay or a venue's signage page (then without
  ``X-Frame-Options``, which cannot name origins);
- ``X-Content-Type-Options: nosniff``.

The live page (``/live/…``) is the one page that frames another site: a
session's stream player. Its route sets its own policy (:func:`page_policy`)
with ``frame-src`` naming exactly that player's origin, and no other page may
frame anything beyond its own origin.

A reply that brings its own ``Content-Security-Policy`` keeps it (the API docs
pages, :mod:`api.http.docs`, whose inline bootstrap script is allowed by its
hash). Live-session sockets do not pass here (they are served before the
middleware stack) and carry no page.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    # data: for the empty favicon (base.html), blob: for the ticket's QR image
    "img-src 'self' data: blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'"
)


def page_policy(frame_sources: Sequence[str] = ()) -> str:
    """A page's whole policy; ``frame_sources``: the origins its frames may load
    (``frame-src``, else ``default-src`` applies: the app's own origin only)."""
    frames = f"; frame-src {' '.join(frame_sources)}" if frame_sources else ""
    return f"{PAGE_POLICY}{frames}; {frame_policy(())}"


OTHER_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'"
FRAMABLE = "/present/"  # the projector page

_COMMON = (
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
)
_CSP = b"content-security-policy"


def frame_policy(ancestors: Sequence[str]) -> str:
    """The ``frame-ancestors`` directive: these origins, or none at all."""
    return "frame-ancestors " + (" ".join(ancestors) or "'none'")


class SecurityHeaders:
    """Adds the headers above to every HTTP reply that does not set them itself."""

    def __init__(self, app: ASGIApp, frame_ancestors: Sequence[str] = ()) -> None:
        self.app = app
        deny = frame_policy(())
        self._closed = self._headers(deny, frame_options=True)
        self._framable = self._headers(frame_policy(frame_ancestors), not frame_ancestors)

    @staticmethod
    def _headers(frames: str, frame_options: bool) -> dict[bool, list[tuple[bytes, bytes]]]:
        """The headers to add, for an HTML page (True) and for anything else (False)."""
        extra = [(b"x-frame-options", b"DENY")] if frame_options else []
        return {
            page: [
                *_COMMON,
                *extra,
                (_CSP, f"{PAGE_POLICY if page else OTHER_POLICY}; {frames}".encode()),
            ]
            for page in (True, False)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        choice = self._framable if scope["path"].startswith(FRAMABLE) else self._closed

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                page = any(
                    name.lower() == b"content-type" and value.startswith(b"text/html")
                    for name, value in headers
                )
                added = [(n, v) for n, v in choice[page] if n not in names]
                message = {**message, "headers": headers + added}
            await send(message)

        await self.app(scope, receive, _send)
