"""Prometheus metrics: request counts and latencies by route template, for Prometheus only.

``GET /metrics`` answers only the bearer token in ``FESTIVAL_METRICS_TOKEN``
(:func:`metrics_reader`), and is off (404) without one. A token of its own, not
an organiser's: Prometheus keeps its credential in a file for months, and an
organiser token expires in 30 days and can do everything an organiser can;
this one reads counters and nothing else, and changing it touches no account.
A separate listening address was the other way; it would need a second server
in every worker process and a port per worker, where a token works the same
for one process, ``--workers`` and replicas. The proxy does not pass
``/metrics`` on (``deploy/nginx.conf``): Prometheus scrapes each process itself.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.problems import PROBLEM, Problem
from festival.errors import NotFound, Unauthorized

_metrics_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="MetricsToken",
    description="FESTIVAL_METRICS_TOKEN, the token Prometheus sends",
)


async def metrics_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_metrics_bearer)],
) -> None:
    """Lets through the bearer of ``FESTIVAL_METRICS_TOKEN``; 401 for anyone else
    (an organiser's token included), 404 while no metrics token is set."""
    expected: str | None = request.app.state.settings.metrics_token
    if not expected:
        raise NotFound("Metrics are off: set FESTIVAL_METRICS_TOKEN to serve them")
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("/metrics needs the metrics token (FESTIVAL_METRICS_TOKEN)")


METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text, "content": {PROBLEM: {}}}
    for status, text in {
        401: "Not the metrics token",
        404: "Metrics are off (no FESTIVAL_METRICS_TOKEN)",
    }.items()
}


class Metrics:
    def __init__(self, state: Any = None) -> None:
        """``state``: the app's, whose live runtime :class:`LiveCollector` reads."""
        self.registry = CollectorRegistry()
        if state is not None:
            self.registry.register(LiveCollector(state))
        self.dependency_up = Gauge(
            "festival_dependency_up",
            "Whether a dependency answered when /metrics was read (1) or not (0)",
            ["dependency"],
            registry=self.registry,
        )
        self.requests = Counter(
            "festival_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "festival_http_request_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.websockets = Counter(
            "festival_websocket_connections",
            "Websocket connections accepted",
            registry=self.registry,
        )


class LiveCollector(Collector):
    """The live hub's view, read at each scrape: whether its broker is there, how many
    times it went away, and how many channel resets brought sockets back to the truth."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Any:
        runtime = getattr(self.state, "live", None)
        if runtime is None:
            return
        hub = runtime.hub
        up = GaugeMetricFamily(
            "festival_live_broker_up", "Whether the live broker (Redis, or in memory) is there"
        )
        up.add_metric([], 1 if hub.available else 0)
        yield up
        outages = CounterMetricFamily(
            "festival_live_broker_outages", "Times the live broker became unreachable"
        )
        outages.add_metric([], getattr(hub.broker, "outages", 0))
        yield outages
        resets = CounterMetricFamily(
            "festival_live_channel_resets",
            "Channel resets: numbering restarted or skipped, sockets sent a fresh snapshot",
        )
        resets.add_metric([], hub.resets)
        yield resets


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = _route_of(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


def _route_of(scope: Scope) -> str:
    """The template of the route that answered (Starlette records it in the scope
    while routing), so that /festivals/a and /festivals/b count as one route."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
