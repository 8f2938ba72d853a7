"""The outbox: messages to attendees, written with the change, sent afterwards.

A message is a row written in the same transaction as the registration,
promotion or programme change it reports, so it exists if and only if that
change committed. The sender (:class:`Sender`) composes each due row as people
receive it (:mod:`tickets.mail`) and delivers it over SMTP when
``FESTIVAL_SMTP_URL`` is set; otherwise it writes it as an ``.eml`` file to
``FESTIVAL_MAIL_DIR`` when that is set (``make run`` does), or only logs its
address and subject: a letter's text can hold a secret (a sign-in link), which
never goes to a log. A failed send is retried with a growing delay and never
dropped. Delivery is at least once: a process that dies between sending and
marking sent will send again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import smtplib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from festival import effects
from festival.db import utcnow
from tickets import mail
from tickets.mail import Letter
from tickets.models import OutboxMessage

log = logging.getLogger("festival.outbox")
LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(minutes=30)
BATCH = 50  # letters leased per pass
LINGER = 0.05  # seconds a poked sender waits for more letters of the same burst
_senders: set[Sender] = set()


def message(
    *,
    festival_id: uuid.UUID | None,
    registration_id: uuid.UUID | None,
    kind: str,
    to: str,
    subject: str,
    body: str,
) -> dict[str, Any]:
    """The row of a message to send, due now."""
    now = utcnow()
    return {
        "id": uuid.uuid4(),
        "festival_id": festival_id,
        "registration_id": registration_id,
        "kind": kind,
        "to_address": to,
        "subject": subject,
        "body": body,
        "attempts": 0,
        "next_attempt_at": now,
        "sent_at": None,
        "last_error": None,
        "created_at": now,
    }


async def post(session: AsyncSession, *rows: dict[str, Any]) -> None:
    """Write messages made by :func:`message` (one statement), to send once this unit
    of work commits."""
    if not rows:
        return
    await (await session.connection()).execute(insert(OutboxMessage), list(rows))
    send_after_commit(session)


def send_after_commit(session: AsyncSession) -> None:
    """Wake the senders once this unit of work commits (for rows written some other way)."""
    effects.defer(session, _poke)


async def _poke() -> None:
    for sender in _senders:
        sender.wake()


async def wake_senders() -> None:
    """Wake this process's senders (for rows committed outside a request's unit of work)."""
    await _poke()


_SECRET = re.compile(r"\b(f[a-z]_)[A-Za-z0-9_-]{32,}")


def scrubbed(text: str) -> str:
    """``text`` with every Festival secret (token or code) replaced by ``[sent]``."""
    return _SECRET.sub(r"\1[sent]", text)


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 ... seconds after each failure, at most ``MAX_BACKOFF``."""
    return min(timedelta(seconds=2 ** min(attempts, 20)), MAX_BACKOFF)


@dataclass(frozen=True)
class Leased:
    """A message leased for sending."""

    letter: Letter
    attempts: int

    @property
    def id(self) -> uuid.UUID:
        return self.letter.id


class Sender:
    """Delivers due outbox rows until stopped. One per process; workers share rows
    safely because each row is leased by a conditional update before sending."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        smtp_url: str | None,
        mail_from: str,
        base_url: str = "http://127.0.0.1:8000",
        mail_dir: Path | None = None,
        poll_seconds: float = 2.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.smtp_url = smtp_url
        self.mail_from = mail_from
        self.base_url = base_url
        self.mail_dir = mail_dir
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
        """Send in passes. A pass that filled its batch is followed at once; otherwise
        the sender waits for a poke (or the poll), then lingers a moment so that the
        letters of a burst of registrations go out in one lease, not one each."""
        while not self._stopping.is_set():
            self._wake.clear()  # before the pass: a poke during it is not lost
            try:
                sent = await self.send_due(BATCH)
            except Exception:
                log.exception("outbox pass failed; retrying")
                sent = 0
            if sent >= BATCH:
                continue
            waiters = [asyncio.ensure_future(e.wait()) for e in (self._wake, self._stopping)]
            await asyncio.wait(waiters, timeout=self.poll_seconds, return_when="FIRST_COMPLETED")
            for waiter in waiters:
                waiter.cancel()
            if self._wake.is_set() and not self._stopping.is_set():
                await asyncio.sleep(LINGER)

    def stop(self) -> None:
        self._stopping.set()

    async def send_due(self, batch: int = BATCH) -> int:
        """Lease what is due now (one statement), send it, mark the outcome; return
        how many were attempted."""
        leased = await self._lease(batch)
        sent: list[uuid.UUID] = []
        for message in leased:
            try:
                await self._deliver(message)
            except Exception as exc:
                log.warning("sending %s failed (attempt %d): %s", message.id, message.attempts, exc)
                await self._mark(
                    [message.id],
                    next_attempt_at=utcnow() + backoff(message.attempts),
                    last_error=str(exc)[:2000],
                )
            else:
                sent.append(message.id)
        if sent:
            await self._mark(sent, sent_at=utcnow(), last_error=None)
            if self.smtp_url or self.mail_dir is not None:  # delivered, not only logged
                await self._scrub([m.letter for m in leased if m.id in set(sent)])
        return len(leased)

    async def _scrub(self, letters: list[Letter]) -> None:
        """Take the secrets (a speaker's token, a sign-in code) out of delivered
        letters' stored text: the database keeps what was said, not a key that
        works. A letter that only went to the log (no SMTP, no mail folder: a
        development setup) keeps its text, the one copy there is."""
        holding = [
            (letter.id, clean)
            for letter in letters
            if (clean := scrubbed(letter.body)) != letter.body
        ]
        if not holding:
            return
        async with self.sessionmaker() as session, session.begin():
            for message_id, body in holding:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == message_id)
                    .values(body=body)
                    .execution_options(synchronize_session=False)
                )

    async def _lease(self, batch: int) -> list[Leased]:
        """Move due rows' ``next_attempt_at`` past the lease in one conditional update.

        A row another worker leased first no longer matches ``next_attempt_at <= now``
        (PostgreSQL re-checks it after the row lock; SQLite has one writer), so it is
        skipped, never sent twice at once.
        """
        now = utcnow()
        async with self.sessionmaker() as session, session.begin():
            due = (
                select(OutboxMessage.id)
                .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at)
                .limit(batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            rows = await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(due),
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + LEASE, attempts=OutboxMessage.attempts + 1)
                .returning(
                    OutboxMessage.id,
                    OutboxMessage.kind,
                    OutboxMessage.to_address,
                    OutboxMessage.subject,
                    OutboxMessage.body,
                    OutboxMessage.festival_id,
                    OutboxMessage.registration_id,
                    OutboxMessage.attempts,
                )
                .execution_options(synchronize_session=False)
            )
            return [
                Leased(Letter(id_, kind, to, subject, body, festival, registration), attempts)
                for id_, kind, to, subject, body, festival, registration, attempts in rows.all()
            ]

    async def _deliver(self, message: Leased) -> None:
        letter = message.letter
        if not self.smtp_url and self.mail_dir is None:
            log.info("mail to %s: %s (not sent: no FESTIVAL_SMTP_URL)", letter.to, letter.subject)
            return
        async with self.sessionmaker() as session:
            facts = await mail.facts_for(session, letter)
        composed = mail.compose(letter, facts, mail_from=self.mail_from, base_url=self.base_url)
        if self.smtp_url:
            await asyncio.to_thread(self._smtp_send, composed)
            return
        assert self.mail_dir is not None
        path = self.mail_dir / f"{utcnow():%Y%m%dT%H%M%S}-{letter.id}.eml"
        await asyncio.to_thread(_write, path, bytes(composed))
        log.info("mail to %s: %s (written to %s)", letter.to, letter.subject, path)

    async def _mark(self, message_ids: list[uuid.UUID], **values: object) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(message_ids))
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def _smtp_send(self, composed: EmailMessage) -> None:
        assert self.smtp_url
        url = urlsplit(self.smtp_url)
        port = url.port or (465 if url.scheme == "smtps" else 25)
        smtp_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
        with smtp_class(url.hostname or "127.0.0.1", port, timeout=15) as smtp:
            if url.scheme == "smtp+starttls":
                smtp.starttls()
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(composed)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
