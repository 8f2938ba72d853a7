"""Issue 16, item 8 (``/metrics``): Prometheus's token only, and never through the proxy.

Found: ``/metrics`` answered anyone, also through ``deploy/nginx.conf``. Now it
answers only the bearer of ``FESTIVAL_METRICS_TOKEN`` (an organiser's token is
refused: it is not Prometheus's credential), is off (404) without one, and
nginx does not pass it on.
"""

from __future__ import annotations

import httpx
import pytest

from api.app import create_app
from festival.settings import Settings
from tests.conftest import METRICS_AUTH, METRICS_TOKEN, Backend, LiveServer
from tests.factories.festival import auth
from tests.factories.tickets import fast_organiser
from tests.pages.conftest import SQLITE_ONLY
from tests.test_deploy import ROOT, find, nginx_blocks


async def test_metrics_answer_the_metrics_token_only(
    live_server: LiveServer, backend: Backend
) -> None:
    organiser = await fast_organiser(backend.engine)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as client:
        anonymous = await client.get("/metrics")
        wrong = await client.get("/metrics", headers=auth(METRICS_TOKEN + "x"))
        as_organiser = await client.get("/metrics", headers=auth(organiser))
        in_query = await client.get(f"/metrics?token={METRICS_TOKEN}")
        prometheus = await client.get("/metrics", headers=METRICS_AUTH)
    for refused in (anonymous, wrong, as_organiser, in_query):
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert "festival_http_requests" not in refused.text
    assert prometheus.status_code == 200
    assert prometheus.headers["content-type"].startswith("text/plain")
    assert 'route="/metrics",status="401"' in prometheus.text


@SQLITE_ONLY
async def test_without_a_metrics_token_metrics_are_off(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"metrics_token": None}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            off = await client.get("/metrics", headers=METRICS_AUTH)
    assert off.status_code == 404
    assert off.json()["detail"] == "Metrics are off: set FESTIVAL_METRICS_TOKEN to serve them"


@SQLITE_ONLY
async def test_openapi_says_metrics_need_their_own_token(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/metrics"]["get"]
    assert operation["security"] == [{"MetricsToken": []}]
    assert {"401", "404"} <= set(operation["responses"])
    assert spec["components"]["securitySchemes"]["MetricsToken"]["scheme"] == "bearer"


@pytest.mark.parametrize("value", ["short", "change-me", "x" * 31])
def test_a_weak_metrics_token_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="at least 32 random characters"):
        Settings(metrics_token=value, secret_key="x" * 32)


def test_the_proxy_does_not_pass_metrics_on() -> None:
    nodes = nginx_blocks((ROOT / "deploy" / "nginx.conf").read_text())
    [(_, block)] = find(nodes, "location", "=", "/metrics")
    assert block == [(["return", "404"], None)]
