"""How many connections a ``festival serve`` process holds, and for how long.

uvicorn's own defaults hold any number of connections, idle or half-open, for
as long as their clients like. ``festival serve`` gives it:

- ``limit_concurrency``: at most ``FESTIVAL_MAX_CONNECTIONS`` (4096) connections,
  live-session sockets included, per process; a request beyond it gets a 503
  at once, instead of the process running out of file descriptors or memory.
  A festival of a few thousand people, each with one live socket, fits one
  process; with ``--workers N`` each worker has its own. The open-file limit is
  raised to fit, up to the hard limit the system allows; where even that is too
  low, the limit is lowered to fit it (and a warning says so).
- ``timeout_keep_alive``: an idle keep-alive connection is closed after
  ``KEEP_ALIVE_SECONDS``. The proxy in ``deploy/nginx.conf`` closes its idle
  upstream connections sooner (``keepalive_timeout`` in its upstream), so it
  never sends a request down a connection the app is closing.

- ``http``: uvicorn's HTTP protocol with a deadline for each request's headers
  (``FESTIVAL_HEADER_TIMEOUT``, :mod:`api.http.header_timeout`), which uvicorn
  lacks: a connection that sends nothing, or its headers a byte at a time, is
  closed instead of holding one of the ``limit_concurrency`` for ever.

A body sent slowly is bounded by its size (:mod:`api.http.body_limit`), not by
time; the proxy in front cuts those off (``client_body_timeout`` in
``deploy/nginx.conf``).
"""

from __future__ import annotations

import logging
import resource
from typing import Any

log = logging.getLogger(__name__)
KEEP_ALIVE_SECONDS = 20
# Descriptors a process needs besides its client connections: the database pool,
# Redis, the listening socket, log files, the worker's pipes.
RESERVED_FILES = 128


def uvicorn_limits(max_connections: int) -> dict[str, Any]:
    """The options of ``uvicorn.run`` that bound connections (see the module)."""
    return {
        "limit_concurrency": connections_allowed(max_connections),
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "http": "api.http.header_timeout:HeadersInTime",
    }


def connections_allowed(wanted: int) -> int:
    """``wanted``, once the open-file limit is raised to fit it; fewer if it cannot be."""
    needed = wanted + RESERVED_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < needed:
        allowed = max(soft - RESERVED_FILES, 16)
        log.warning(
            "FESTIVAL_MAX_CONNECTIONS is %d, but the open-file limit (%d) allows %d "
            "connections per process: raise it (ulimit -n) to serve more",
            wanted,
            soft,
            allowed,
        )
        return allowed
    return wanted
