"""Background machinery of tickets, started and stopped with the app.

The outbox sender runs as one task per process; workers share the outbox
table safely (see :class:`tickets.outbox.Sender`). Programme-change handlers
are subscribed here so every process that serves requests has them.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import FastAPI

from tickets import notify
from tickets.outbox import Sender


async def start(app: FastAPI) -> None:
    """Subscribe to programme changes and start the outbox sender."""
    notify.install()
    settings = app.state.settings
    sender = Sender(
        app.state.sessionmaker, smtp_url=settings.smtp_url, mail_from=settings.mail_from
    )
    app.state.outbox_sender = sender
    app.state.outbox_task = asyncio.create_task(sender.run(), name="outbox-sender")


async def stop(app: FastAPI) -> None:
    """Stop the sender, letting a send in flight finish (bounded by its SMTP timeout)."""
    sender: Sender | None = getattr(app.state, "outbox_sender", None)
    task: asyncio.Task[None] | None = getattr(app.state, "outbox_task", None)
    if sender is None or task is None:
        return
    sender.stop()
    try:
        await asyncio.wait_for(task, timeout=20)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
