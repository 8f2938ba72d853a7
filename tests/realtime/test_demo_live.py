"""`festival demo` makes the keynote and a workshop live, once, and prints the links."""

from __future__ import annotations

from sqlalchemy import func, select

from api.cli.demo.loader import load_demo
from festival.settings import Settings
from realtime.models import Ballot, Poll, Question
from schedule.models import Session
from tests.conftest import Backend


async def _counts(backend: Backend) -> tuple[int, int, int, int]:
    async with backend.engine.connect() as connection:
        values = []
        for stmt in (
            select(func.count()).select_from(Question),
            select(func.count()).select_from(Poll),
            select(func.count()).select_from(Ballot),
            select(func.count()).select_from(Session).where(Session.live_qa.is_(True)),
        ):
            values.append(int((await connection.execute(stmt)).scalar_one()))
    return values[0], values[1], values[2], values[3]


async def test_demo_live_sessions_are_loaded_once_with_links_printed(
    settings: Settings, backend: Backend
) -> None:
    lines = await load_demo(settings)
    first = await _counts(backend)
    again = await load_demo(settings)
    assert await _counts(backend) == first
    assert first[0] > 0
    assert first[1] > 0
    assert first[2] > 0
    for printed in (lines, again):
        assert any(line.startswith("live moderator token") for line in printed)
        assert any("/present/" in line and "token=fp_" in line for line in printed)
