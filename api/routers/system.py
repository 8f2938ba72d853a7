"""Health, readiness and metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.http.metrics import METRICS_RESPONSES, Metrics, metrics_reader
from festival.errors import FestivalError

router = APIRouter(tags=["system"])
CHECK_TIMEOUT = 2.0


class NotReady(FestivalError):
    status = 503
    code = "not_ready"
    title = "Not ready"


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database and the broker are reachable")
async def readyz(request: Request) -> dict[str, str]:
    """200 with ``ok`` for each dependency, or 503 problem JSON whose ``checks`` say
    which is down (``unreachable``) and whose detail names it."""
    checks = await dependency_checks(request)
    down = [name for name, state in checks.items() if state != "ok"]
    if down:
        raise NotReady(f"{' and '.join(down)} unreachable", checks=checks)
    return {"status": "ok", **checks}


async def dependency_checks(request: Request) -> dict[str, str]:
    """``database`` and, with Redis set, ``redis``: ``ok`` or ``unreachable``, each
    answered within :data:`CHECK_TIMEOUT` (a paused server must not hang the probe)."""
    app = request.app

    async def _database() -> None:
        async with app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    probes = {"database": _database}
    redis = getattr(app.state, "redis", None)
    if redis is not None:
        probes["redis"] = redis.ping
    checks: dict[str, str] = {}
    for name, probe in probes.items():
        try:
            await asyncio.wait_for(probe(), CHECK_TIMEOUT)
            checks[name] = "ok"
        except Exception:
            checks[name] = "unreachable"
    live = getattr(app.state, "live", None)
    if checks.get("redis") == "ok" and live is not None and not live.hub.available:
        checks["redis"] = "unreachable"  # answers again, but the live broker has not seen it yet
    return checks


@router.get(
    "/metrics",
    summary="Prometheus metrics (the metrics token only)",
    response_class=Response,
    dependencies=[Depends(metrics_reader)],
    responses=METRICS_RESPONSES,
)
async def metrics(request: Request) -> Response:
    """The counters, with each dependency's state checked now (``festival_dependency_up``)."""
    found: Metrics = request.app.state.metrics
    for name, state in (await dependency_checks(request)).items():
        found.dependency_up.labels(name).set(1 if state == "ok" else 0)
    body = generate_latest(found.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
