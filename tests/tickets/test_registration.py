"""Registration through the API: places, waiting list, e-mails, idempotency, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import Backend, count_queries
from tests.factories.festival import auth
from tests.factories.tickets import open_festival, register, registered


async def test_registration_is_confirmed_while_places_remain_then_waitlisted(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine, capacity=2)
    replies = [await registered(client, made["slug"]) for _ in range(4)]
    assert [r["status"] for r in replies] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    assert [r["waitlist_position"] for r in replies] == [None, None, 1, 2]
    assert replies[0]["ticket"]["qr"]
    assert replies[2]["ticket"] is None
    assert replies[0]["attendee_token"].startswith("fa_")
    assert replies[0]["feed_token"].startswith("ff_")
