"""Helpers of the abuse-limit tests: apps with the limits on, served by a real
uvicorn on loopback as ``festival serve`` serves them, and accounts to guess at."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.http.client_address import uvicorn_options
from festival.auth import create_organiser
from festival.db import make_sessionmaker, unit_of_work
from festival.models import Account
from festival.settings import Settings
from tests.conftest import uvicorn_in_loop

PASSWORD = "correct horse battery"
TOKEN = "/api/v1/auth/token"


def limited(settings: Settings, **changes: Any) -> Settings:
    """``settings`` (the tests', limits off) with the limits on, and ``changes``."""
    return settings.model_copy(update={"rate_limits": True, **changes})


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app for ``settings`` behind a real uvicorn on loopback, with the forwarding
    options ``festival serve`` gives it; a client of it."""
    app = create_app(settings)
    options = uvicorn_options(settings.trusted_proxies)
    async with (
        uvicorn_in_loop(app, timeout_keep_alive=60, **options) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        yield client


async def cheap_account(engine: AsyncEngine) -> str:
    """An organiser whose password hash is Argon2 at its cheapest (the parameters
    travel in the hash): for tests that guess many times and time nothing."""
    email = f"cheap-{uuid.uuid4().hex[:8]}@example.org"
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    async with unit_of_work(make_sessionmaker(engine)) as session:
        session.add(Account(id=uuid.uuid4(), email=email, password_hash=cheap.hash(PASSWORD)))
    return email


async def real_account(engine: AsyncEngine) -> str:
    """An organiser made as the CLI makes one (Argon2 at the production cost)."""
    email = f"real-{uuid.uuid4().hex[:8]}@example.org"
    async with unit_of_work(make_sessionmaker(engine)) as session:
        await create_organiser(session, email, PASSWORD)
    return email


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = "wrong", **headers: str
) -> httpx.Response:
    return await client.post(TOKEN, json={"email": email, "password": password}, headers=headers)


async def timed(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> float:
    """Seconds one request took, start to end of its reply."""
    started = time.perf_counter()
    await client.request(method, path, **kwargs)
    return time.perf_counter() - started


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"
