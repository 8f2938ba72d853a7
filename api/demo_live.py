"""Demo live: a step of `festival demo` (filled in by its capability)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from festival.models import Account, Festival
from festival.settings import Settings


async def load(
    session: AsyncSession, owner: Account, festivals: list[Festival], settings: Settings
) -> list[str]:
    """Add this capability's demo data idempotently; return lines worth printing."""
    return []
