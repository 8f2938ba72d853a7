"""Logs without secrets: tokens in URLs and ``Authorization`` values are redacted.

Magic links, calendar feeds and the live socket carry their token in the query
(``?token=fa_…``), and uvicorn's access log (``uvicorn.access``) and its
websocket lines (``uvicorn.error``: ``"WebSocket /ws/sessions/…?token=…"
[accepted]``) print the whole URL; at ``DEBUG`` the websockets library prints
the handshake's headers, ``Authorization`` among them. A log is copied, shipped
and kept far longer than a token lives, so :func:`install` makes every log
record of the process say ``token=[redacted]`` and ``Authorization: [redacted]``
instead: it wraps the record factory, so the text is cleaned when the record is
made, before any filter, handler or formatter (uvicorn's, ours, a test's) sees
it.

What is redacted: the value of any query parameter whose name ends in
``token`` (``token``, ``access_token``, ``feed_token``); the credentials after
``Bearer``; the value of an ``Authorization`` header written as
``Authorization: …``; and anything shaped like one of Festival's own secrets
(``fo_``, ``fs_``, ``fa_``, ``ff_``, ``fp_`` and 43 URL-safe characters),
wherever it appears. Not guaranteed: a secret split across a message's
arguments, or inside an exception's traceback text.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"
_RULES = (
    # ?token=…, &feed_token=… (up to the next parameter, space, quote or fragment)
    (re.compile(r"(?i)(\b[a-z_]*token=)[^&\s\"'#<>]+"), rf"\g<1>{REDACTED}"),
    # "Authorization: Bearer x", "authorization=x" (a header as a line or a field)
    (re.compile(r"(?i)(\bauthorization['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n]+"), rf"\g<1>{REDACTED}"),
    # b'Bearer x' in a header tuple, "Bearer x" in free text
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\g<1>{REDACTED}"),
    # a Festival token anywhere (festival.auth: a kind's prefix, then token_urlsafe(32))
    (re.compile(r"\b(f[oasfp]_)[A-Za-z0-9_-]{32,}"), rf"\g<1>{REDACTED}"),
)
# One cheap search first: most lines hold none of these.
_SUSPECT = re.compile(r"(?i)token=|authorization|bearer|\bf[oasfp]_")


def redact(text: str) -> str:
    """``text`` with every secret the rules above know replaced by ``[redacted]``."""
    if _SUSPECT.search(text) is None:
        return text
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def _redact_arg(arg: Any) -> Any:
    if isinstance(arg, str):
        return redact(arg)
    if arg is None or isinstance(arg, int | float):  # kept as they are, for %d and %f
        return arg
    text = str(arg)  # a scope, a header list, bytes: printed as text if it holds a secret
    cleaned = redact(text)
    return arg if cleaned == text else cleaned


def _redact_args(args: Any) -> Any:
    if isinstance(args, tuple):
        return tuple(_redact_arg(a) for a in args)
    if isinstance(args, dict):
        return {key: _redact_arg(value) for key, value in args.items()}
    return args


def install() -> None:
    """Redact every log record made from now on, in this process (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "festival_redacts", False):
        return

    def _record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.args:
            # Each argument on its own: the message keeps its placeholders, and
            # uvicorn's access formatter its five arguments.
            record.args = _redact_args(record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return record

    _record.festival_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(_record)
