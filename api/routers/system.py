"""Health, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.http.metrics import METRICS_RESPONSES, metrics_reader
from festival.errors import FestivalError

router = APIRouter(tags=["system"])


class NotReady(FestivalError):
    status = 503
    code = "not_ready"
    title = "Not ready"


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database and the broker are reachable")
async def readyz(request: Request) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        raise NotReady(f"database unreachable: {type(exc).__name__}") from exc
    redis = getattr(request.app.state, "redis", None)
    if redis is not None:
        try:
            await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            raise NotReady(f"redis unreachable: {type(exc).__name__}") from exc
    return {"status": "ok", **checks}


@router.get(
    "/metrics",
    summary="Prometheus metrics (the metrics token only)",
    response_class=Response,
    dependencies=[Depends(metrics_reader)],
    responses=METRICS_RESPONSES,
)
async def metrics(request: Request) -> Response:
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
