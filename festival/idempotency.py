"""Replies remembered under an ``Idempotency-Key``.

The key is claimed (a row inserted) before any work, and the reply is stored
in the same transaction as the change it reports, so a retry sees either both
or neither. Two racing requests with one key: the second one's claim waits on
the first's row (PostgreSQL) or lock (SQLite), collides once the first commits,
its transaction rolls back, and it is answered with the first one's reply.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from festival.errors import Invalid
from festival.models import IdempotentReply

CLAIMED = 0


def key_hash(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()


class KeyReused(Invalid):
    code = "idempotency_key_reused"
    title = "Idempotency-Key reused"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was used for a different request; use a new key",
            field="Idempotency-Key",
        )


async def remembered(
    session: AsyncSession, hashed: str, digest: str | None = None
) -> tuple[int, Any] | None:
    """The reply stored under the key, if any. A key first used with another
    request body is refused (``KeyReused``), never answered with that reply."""
    reply = await session.get(IdempotentReply, hashed)
    if reply is None or reply.status == CLAIMED:
        return None
    if digest is not None and reply.request_digest not in (None, digest):
        raise KeyReused()
    return reply.status, json.loads(reply.body)


async def claim(session: AsyncSession, hashed: str, digest: str | None = None) -> None:
    """Insert the key's row now; raises IntegrityError if a twin holds it."""
    session.add(
        IdempotentReply(key_hash=hashed, request_digest=digest, status=CLAIMED, body="null")
    )
    await session.flush()


async def remember(session: AsyncSession, hashed: str, status: int, body: Any) -> None:
    reply = await session.get(IdempotentReply, hashed)
    if reply is None:
        session.add(IdempotentReply(key_hash=hashed, status=status, body=json.dumps(body)))
    else:
        reply.status, reply.body = status, json.dumps(body)
    await session.flush()
