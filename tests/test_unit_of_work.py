"""A request is one unit of work: durable before the reply, gone on error."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from api.app import create_app
from festival.models import Festival
from festival.settings import Settings
from tests.conftest import Backend
from tests.factories.festival import auth, festival, festival_body, organiser


async def test_commit_happens_before_the_reply_is_sent(app: FastAPI, backend: Backend) -> None:
    _, token = await organiser(backend.engine)
    order: list[str] = []
    writers: set[int] = set()

    # Only the commit of the session that wrote the festival counts: background
    # tasks (the outbox sender) commit on the same engine at any moment.
    def _on_flush_new(session: Session, *_: object) -> None:
        if any(isinstance(obj, Festival) for obj in session.new):
            writers.add(id(session))

    def _on_commit(session: Session) -> None:
        if id(session) in writers:
            order.append("commit")

    async def recording_app(scope, receive, send):  # type: ignore[no-untyped-def]
        async def _send(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                order.append("reply")
            await send(message)

        await app(scope, receive, _send)

    event.listen(Session, "before_flush", _on_flush_new)
    event.listen(Session, "after_commit", _on_commit)
    try:
        transport = httpx.ASGITransport(app=recording_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                "/api/v1/festivals", json=festival_body(), headers=auth(token)
            )
    finally:
        event.remove(Session, "before_flush", _on_flush_new)
        event.remove(Session, "after_commit", _on_commit)
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


async def test_sign_in_replays_only_for_the_same_credentials(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    from festival.auth import create_organiser
    from festival.db import make_sessionmaker, unit_of_work

    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        await create_organiser(session, "kim@example.org", "kims-password")
    good = {"email": "kim@example.org", "password": "kims-password"}
    key = {"Idempotency-Key": "sign-in-1"}
    first = await client.post("/api/v1/auth/token", json=good, headers=key)
    again = await client.post("/api/v1/auth/token", json=good, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    guessed = await client.post(
        "/api/v1/auth/token", json={**good, "password": "a guess"}, headers=key
    )
    assert guessed.status_code == 422
    assert guessed.json()["code"] == "idempotency_key_reused"
    assert first.json()["access_token"] not in guessed.text


async def test_staff_token_retry_with_one_key_issues_one_token(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    made = await client.post("/api/v1/festivals", json=festival_body(), headers=auth(token))
    slug = made.json()["slug"]
    headers = {**auth(token), "Idempotency-Key": "door-1"}
    body = {"role": "checkin", "label": "Door 1"}
    first = await client.post(f"/api/v1/festivals/{slug}/staff-tokens", json=body, headers=headers)
    again = await client.post(f"/api/v1/festivals/{slug}/staff-tokens", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["token"] == first.json()["token"]
    listed = await client.get(f"/api/v1/festivals/{slug}/staff-tokens", headers=auth(token))
    assert [t["label"] for t in listed.json()["items"]] == ["Door 1"]


async def test_a_key_reused_for_another_request_is_422_and_changes_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    headers = {**auth(token), "Idempotency-Key": "one-key"}
    first = await client.post(
        "/api/v1/festivals", json=festival_body(slug="first"), headers=headers
    )
    other = await client.post(
        "/api/v1/festivals", json=festival_body(slug="other"), headers=headers
    )
    assert first.status_code == 201
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert (await client.get("/api/v1/festivals/other", headers=auth(token))).status_code == 404


async def test_a_request_holds_one_connection_so_a_small_pool_never_deadlocks(
    settings: Settings, backend: Backend
) -> None:
    """The pool has no overflow: a request needing a second connection while holding
    its first would wait forever once every request holds one. Read routes with a
    bearer token and writes run side by side, many at once, on a pool of two
    (PostgreSQL; SQLite's pool is its own, and the same requests must pass there)."""
    app = create_app(settings.model_copy(update={"db_pool_size": 2}))
    _, token = await organiser(backend.engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            slug = (await festival(client, token))["slug"]

            async def _read() -> int:
                path = f"/api/v1/festivals/{slug}/sessions"
                return (await client.get(path, headers=auth(token))).status_code

            async def _write(n: int) -> int:
                body = festival_body(slug=f"pool-{n}")
                response = await client.post("/api/v1/festivals", json=body, headers=auth(token))
                return response.status_code

            work = [_read() for _ in range(12)] + [_write(n) for n in range(6)]
            statuses = await asyncio.wait_for(asyncio.gather(*work), timeout=20)
    assert statuses == [200] * 12 + [201] * 6
