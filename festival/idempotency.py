"""Replies remembered under an ``Idempotency-Key``.

The reply is stored in the same transaction as the change it reports, so a
retry sees either both or neither. Two racing requests with one key: the
second one's insert collides on the primary key, its transaction rolls back,
and it is answered with the first one's reply.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from festival.models import IdempotentReply


def key_hash(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()


async def remembered(session: AsyncSession, hashed: str) -> tuple[int, Any] | None:
    reply = await session.get(IdempotentReply, hashed)
    if reply is None:
        return None
    return reply.status, json.loads(reply.body)


async def remember(session: AsyncSession, hashed: str, status: int, body: Any) -> None:
    session.add(IdempotentReply(key_hash=hashed, status=status, body=json.dumps(body)))
    await session.flush()
