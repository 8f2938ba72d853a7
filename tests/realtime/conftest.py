"""Fixtures of the live-session tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from realtime.hub import Hub


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    """A hub whose ticker is not started: what was offered stays for the test to take."""
    made = Hub()
    yield made
    await made.stop()
