"""Background machinery of live, started and stopped with the app (filled in later)."""

from __future__ import annotations

from fastapi import FastAPI


async def start(app: FastAPI) -> None:
    """Start what live needs while the app runs."""


async def stop(app: FastAPI) -> None:
    """Stop it, waiting for in-flight work."""
