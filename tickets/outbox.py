"""The outbox: messages to attendees, written with the change, sent afterwards.

A message is a row written in the same transaction as the registration,
promotion or programme change it reports, so it exists if and only if that
change committed. The sender (:class:`Sender`) delivers due rows over SMTP when
``FESTIVAL_SMTP_URL`` is set, and to the log otherwise. A failed send is
retried with a growing delay and never dropped. Delivery is at least once: a
process that dies between sending and marking sent will send again.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from festival import effects
from festival.db import utcnow
from tickets.models import OutboxMessage

log = logging.getLogger("festival.outbox")
LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(minutes=30)
_senders: set[Sender] = set()


async def enqueue(
    session: AsyncSession,
    *,
    festival_id: uuid.UUID | None,
    registration_id: uuid.UUID | None,
    kind: str,
    to: str,
    subject: str,
    body: str,
) -> OutboxMessage:
    """Write a message to send once this unit of work commits."""
    message = OutboxMessage(
        id=uuid.uuid4(),
        festival_id=festival_id,
        registration_id=registration_id,
        kind=kind,
        to_address=to,
        subject=subject,
        body=body,
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    effects.defer(session, _poke)
    return message


async def _poke() -> None:
    for sender in _senders:
        sender.wake()


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 ... seconds after each failure, at most ``MAX_BACKOFF``."""
    return min(timedelta(seconds=2 ** min(attempts, 20)), MAX_BACKOFF)


class Sender:
    """Delivers due outbox rows until stopped. One per process; workers share rows
    safely because each row is leased by a conditional update before sending."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        smtp_url: str | None,
        mail_from: str,
        poll_seconds: float = 2.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.smtp_url = smtp_url
        self.mail_from = mail_from
        self.poll_seconds = poll_seconds
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        _senders.add(self)
        try:
            await self._loop()
        finally:
            _senders.discard(self)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self.send_due()
            except Exception:
                log.exception("outbox pass failed; retrying")
                sent = 0
            if sent:
                continue
            self._wake.clear()
            waiters = [asyncio.ensure_future(e.wait()) for e in (self._wake, self._stopping)]
            await asyncio.wait(waiters, timeout=self.poll_seconds, return_when="FIRST_COMPLETED")
            for waiter in waiters:
                waiter.cancel()

    def stop(self) -> None:
        self._stopping.set()

    async def send_due(self, batch: int = 20) -> int:
        """Send what is due now; return how many were attempted."""
        now = utcnow()
        async with self.sessionmaker() as session:
            due = (
                await session.execute(
                    select(OutboxMessage.id, OutboxMessage.next_attempt_at)
                    .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
                    .order_by(OutboxMessage.next_attempt_at)
                    .limit(batch)
                )
            ).all()
        attempted = 0
        for message_id, due_at in due:
            message = await self._lease(message_id, due_at)
            if message is not None:
                attempted += 1
                await self._deliver(message)
        return attempted

    async def _lease(self, message_id: uuid.UUID, due_at: datetime) -> OutboxMessage | None:
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.next_attempt_at == due_at,
                )
                .values(next_attempt_at=utcnow() + LEASE, attempts=OutboxMessage.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return None  # another worker leased it
            return await session.get(OutboxMessage, message_id)

    async def _deliver(self, message: OutboxMessage) -> None:
        try:
            if self.smtp_url:
                await asyncio.to_thread(self._smtp_send, message)
            else:
                log.info("mail to %s: %s\n%s", message.to_address, message.subject, message.body)
        except Exception as exc:
            log.warning("sending %s failed (attempt %d): %s", message.id, message.attempts, exc)
            await self._mark(
                message.id,
                next_attempt_at=utcnow() + backoff(message.attempts),
                last_error=str(exc)[:2000],
            )
            return
        await self._mark(message.id, sent_at=utcnow(), last_error=None)

    async def _mark(self, message_id: uuid.UUID, **values: object) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def _smtp_send(self, message: OutboxMessage) -> None:
        assert self.smtp_url
        url = urlsplit(self.smtp_url)
        mail = EmailMessage()
        mail["From"] = self.mail_from
        mail["To"] = message.to_address
        mail["Subject"] = message.subject
        mail["Message-ID"] = f"<{message.id}@festival>"
        mail.set_content(message.body)
        port = url.port or (465 if url.scheme == "smtps" else 25)
        smtp_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
        with smtp_class(url.hostname or "127.0.0.1", port, timeout=15) as smtp:
            if url.scheme == "smtp+starttls":
                smtp.starttls()
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(mail)
