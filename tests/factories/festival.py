"""Factories for the core: organisers, tokens, festivals."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from festival.auth import create_organiser, issue_token
from festival.db import make_sessionmaker, unit_of_work


async def organiser(engine: AsyncEngine, email: str | None = None) -> tuple[uuid.UUID, str]:
    """A committed organiser account and a bearer token for it."""
    email = email or f"org-{uuid.uuid4().hex[:8]}@example.org"
    async with unit_of_work(make_sessionmaker(engine)) as session:
        account, _ = await create_organiser(session, email, "correct horse battery")
        _, raw = await issue_token(session, "organiser", account_id=account.id)
    return account.id, raw


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def festival_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "slug": f"fest-{uuid.uuid4().hex[:8]}",
        "name": "Innovation Festival",
        "timezone": "Europe/Amsterdam",
        "starts_on": date(2030, 10, 8).isoformat(),
        "ends_on": date(2030, 10, 9).isoformat(),
        "mode": "online",
        "capacity": 100,
    }
    body.update(overrides)
    return body


async def festival(
    client: httpx.AsyncClient, token: str, *, publish: bool = True, **overrides: Any
) -> dict[str, Any]:
    """A festival made through the API (published unless asked otherwise)."""
    response = await client.post(
        "/api/v1/festivals", json=festival_body(**overrides), headers=auth(token)
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    if publish:
        response = await client.post(
            f"/api/v1/festivals/{made['slug']}/publish", headers=auth(token)
        )
        assert response.status_code == 200, response.text
        made = response.json()
    return made


async def team_member(
    engine: AsyncEngine, festival_id: str | uuid.UUID, role: str, email: str | None = None
) -> str:
    """A committed organiser account with ``role`` in a festival's team, and its token
    (the row an accepted invitation makes; the invitation itself is tests/teams')."""
    from festival.models import Account, FestivalMember

    async with unit_of_work(make_sessionmaker(engine)) as session:
        account = Account(
            id=uuid.uuid4(),
            email=email or f"{role}-{uuid.uuid4().hex[:8]}@example.org",
            password_hash="not-a-hash: this member signs in with a token only",
        )
        session.add(account)
        await session.flush()
        session.add(
            FestivalMember(
                id=uuid.uuid4(),
                festival_id=uuid.UUID(str(festival_id)),
                account_id=account.id,
                role=role,
            )
        )
        _, raw = await issue_token(session, "organiser", account_id=account.id)
    return raw
