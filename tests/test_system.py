"""Health, readiness, metrics, and the shape of errors nobody planned for."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from festival.settings import Settings
from tests.conftest import METRICS_AUTH, Backend


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok"}


@pytest.fixture
async def redis_app(settings: Settings, redis_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(settings.model_copy(update={"redis_url": redis_url}))
    async with application.router.lifespan_context(application):
        yield application


async def test_readiness_checks_redis_when_configured(redis_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=redis_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ready = await client.get("/readyz")
    assert ready.json() == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_readiness_fails_when_redis_is_unreachable(
    settings: Settings, backend: Backend
) -> None:
    from tests.conftest import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    application = create_app(settings.model_copy(update={"redis_url": dead}))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            ready = await client.get("/readyz")
            metrics = (await client.get("/metrics", headers=METRICS_AUTH)).text
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["checks"] == {"database": "ok", "redis": "unreachable"}
    assert ready.json()["detail"] == "redis unreachable"
    assert 'festival_dependency_up{dependency="redis"} 0.0' in metrics.splitlines()
    assert 'festival_dependency_up{dependency="database"} 1.0' in metrics.splitlines()
    assert "festival_live_broker_up 0.0" in metrics.splitlines()


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/festivals/one-slug")
    await client.get("/api/v1/festivals/another-slug")
    text = (await client.get("/metrics", headers=METRICS_AUTH)).text
    line = next(
        row
        for row in text.splitlines()
        if row.startswith("festival_http_requests_total")
        and 'route="/api/v1/festivals/{slug}"' in row
        and 'status="404"' in row
    )
    assert line.endswith(" 2.0")
    assert "festival_http_request_seconds_bucket" in text


async def test_unknown_route_and_method_are_problem_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["title"] == "Not found"
    wrong = await client.delete("/api/v1/festivals")
    assert wrong.status_code == 405
    assert wrong.json()["status"] == 405


async def test_unexpected_error_is_problem_json_with_a_logged_request_id(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with caplog.at_level(logging.ERROR, logger="festival.api"):
            response = await client.get("/boom", headers={"X-Request-Id": "req-42"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"] == "req-42"
    assert "kaboom" not in response.text
    assert any("req-42" in record.getMessage() for record in caplog.records)


def test_embedded_secret_is_generated_once_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FESTIVAL_SECRET_KEY", raising=False)
    first = Settings().secret_key
    second = Settings().secret_key
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / ".festival-secret").stat().st_mode & 0o077 == 0


def test_production_refuses_placeholder_secret() -> None:
    with pytest.raises(ValueError, match="FESTIVAL_SECRET_KEY"):
        Settings(environment="production", secret_key="change-me")
