"""A request is one unit of work: durable before the reply, gone on error."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy import event, func, select

from festival.models import Festival
from tests.conftest import Backend
from tests.factories.festival import auth, festival_body, organiser


async def test_commit_happens_before_the_reply_is_sent(app: FastAPI, backend: Backend) -> None:
    _, token = await organiser(backend.engine)
    order: list[str] = []

    def _on_commit(_: object) -> None:
        order.append("commit")

    async def recording_app(scope, receive, send):  # type: ignore[no-untyped-def]
        async def _send(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                order.append("reply")
            await send(message)

        await app(scope, receive, _send)

    event.listen(app.state.engine.sync_engine, "commit", _on_commit)
    try:
        transport = httpx.ASGITransport(app=recording_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                "/api/v1/festivals", json=festival_body(), headers=auth(token)
            )
    finally:
        event.remove(app.state.engine.sync_engine, "commit", _on_commit)
    assert response.status_code == 201
    assert order == ["commit", "reply"]


async def test_failed_request_writes_nothing(client: httpx.AsyncClient, backend: Backend) -> None:
    _, token = await organiser(backend.engine)
    await client.post("/api/v1/festivals", json=festival_body(slug="taken"), headers=auth(token))
    again = await client.post(
        "/api/v1/festivals", json=festival_body(slug="taken"), headers=auth(token)
    )
    assert again.status_code == 409
    async with backend.engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(Festival))
    assert count == 1


async def test_idempotency_key_replays_the_first_reply(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    headers = {**auth(token), "Idempotency-Key": "create-once"}
    first = await client.post("/api/v1/festivals", json=festival_body(slug="once"), headers=headers)
    second = await client.post(
        "/api/v1/festivals", json=festival_body(slug="once"), headers=headers
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second.headers["idempotent-replay"] == "true"
    other_key = await client.post(
        "/api/v1/festivals",
        json=festival_body(slug="once"),
        headers={**auth(token), "Idempotency-Key": "another"},
    )
    assert other_key.status_code == 409


async def test_concurrent_retries_with_one_key_create_one_festival(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    headers = {**auth(token), "Idempotency-Key": "racing"}
    body = festival_body(slug="raced")
    replies = await asyncio.gather(
        *(client.post("/api/v1/festivals", json=body, headers=headers) for _ in range(8))
    )
    assert {r.status_code for r in replies} == {201}
    assert len({r.json()["id"] for r in replies}) == 1
    async with backend.engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(Festival))
    assert count == 1
