"""Keyset pagination with opaque cursors.

A cursor names the last row of a page by its sort key and id, so pages stay
stable while rows are added. Cursors are base64url JSON: opaque to clients,
and a forged one can only move the window, never widen what a caller may see
(visibility is a WHERE clause applied before the cursor).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from festival.errors import Invalid

T = TypeVar("T")
MAX_LIMIT = 200


def encode_cursor(key: Any, row_id: uuid.UUID) -> str:
    if isinstance(key, datetime):
        key = {"dt": key.isoformat()}
    raw = json.dumps([key, str(row_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key, row_id = json.loads(base64.urlsafe_b64decode(padded))
        if isinstance(key, dict):
            key = datetime.fromisoformat(key["dt"])
        return key, uuid.UUID(row_id)
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise Invalid("The cursor is not one this server gave out", field="cursor") from exc


async def keyset_page(
    session: AsyncSession,
    stmt: Select[T],
    key: InstrumentedAttribute[Any],
    row_id: InstrumentedAttribute[Any],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[T], str | None]:
    """One page of ``stmt`` ordered by (key, id), and the cursor of the next page."""
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor:
        last_key, last_id = decode_cursor(cursor)
        stmt = stmt.where(tuple_(key, row_id) > tuple_(last_key, last_id))
    rows = (await session.scalars(stmt.order_by(key, row_id).limit(limit + 1))).all()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(getattr(last, key.key), getattr(last, row_id.key))
