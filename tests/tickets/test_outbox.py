"""The outbox against a real SMTP server (aiosmtpd on loopback): delivery and retries."""

from __future__ import annotations

import asyncio
import email
import io
import re
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar
from PIL import Image
from sqlalchemy import select, update

from api.app import create_app
from festival.db import make_sessionmaker, unit_of_work, utcnow
from festival.settings import Settings
from tests.conftest import Backend, free_port
from tests.factories.tickets import open_festival, registered, zbar_decode
from tickets import outbox
from tickets.models import OutboxMessage


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.controller.start()
    yield server
    server.controller.stop()


async def _eventually(condition: Any, seconds: float = 15) -> None:
    """Wait for a background effect, failing (not hanging) if it never comes."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never became true")


async def _enqueue(backend: Backend, n: int = 1, body: str = "Hello") -> list[uuid.UUID]:
    made = [
        outbox.message(
            festival_id=None,
            registration_id=None,
            kind="test",
            to=f"p{i}@example.org",
            subject=f"Message {i}",
            body=body,
        )
        for i in range(n)
    ]
    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        await outbox.post(session, *made)
    return [m["id"] for m in made]


async def _rows(backend: Backend) -> list[OutboxMessage]:
    async with make_sessionmaker(backend.engine)() as session:
        return list((await session.scalars(select(OutboxMessage))).all())


async def test_registration_mail_with_the_ticket_arrives_over_smtp(
    backend: Backend, settings: Settings, smtp: SmtpServer
) -> None:
    application = create_app(settings.model_copy(update={"smtp_url": smtp.url}))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            made, _ = await open_festival(client, backend.engine, name="Mail Fest")
            reply = await registered(client, made["slug"], email="mail@example.org")
            await _eventually(lambda: len(smtp.inbox.messages) == 1)
    message = smtp.inbox.messages[0]
    assert message["To"] == "mail@example.org"
    assert message["Subject"] == "Your place at Mail Fest"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    qr = reply["ticket"]["qr"]
    assert qr in text.get_content()
    slug = made["slug"]
    for link in (f"/f/{slug}/ticket", f"/f/{slug}/me"):
        assert f"{settings.base_url}{link}" in text.get_content()
        assert f'href="{settings.base_url}{link}"' in html.get_content()
    # The QR code is an inline PNG the HTML shows, and zbar reads the ticket from it.
    png = next(p for p in message.walk() if p.get_content_type() == "image/png")
    assert f"cid:{png['Content-ID'].strip('<>')}" in html.get_content()
    decoded = zbar_decode(Image.open(io.BytesIO(png.get_content())))
    assert [found.data.decode() for found in decoded] == [qr]
    # The festival's days as a calendar file.
    (ics,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    (event,) = Calendar.from_ical(ics.get_content()).walk("VEVENT")
    assert str(event["summary"]) == "Mail Fest"
    assert event.decoded("dtstart").isoformat() == made["starts_on"]
    assert [m.sent_at is not None for m in await _rows(backend)] == [True]


async def test_a_failed_send_is_kept_and_retried_until_delivered(backend: Backend) -> None:
    port = free_port()  # nothing listens here yet
    sender = outbox.Sender(
        make_sessionmaker(backend.engine), smtp_url=f"smtp://127.0.0.1:{port}", mail_from="f@x.org"
    )
    await _enqueue(backend)
    assert await sender.send_due() == 1
    [row] = await _rows(backend)
    assert (row.sent_at, row.attempts) == (None, 1)
    assert row.last_error
    assert row.next_attempt_at > utcnow()
    assert await sender.send_due() == 0  # not due yet: backing off
    server = SmtpServer(port)
    server.controller.start()
    try:
        async with make_sessionmaker(backend.engine)() as session, session.begin():
            await session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        assert await sender.send_due() == 1
    finally:
        server.controller.stop()
    [row] = await _rows(backend)
    assert (row.sent_at is not None, row.attempts, row.last_error) == (True, 2, None)
    assert [m["Subject"] for m in server.inbox.messages] == ["Message 0"]


async def test_two_senders_deliver_each_message_once(backend: Backend, smtp: SmtpServer) -> None:
    senders = [
        outbox.Sender(make_sessionmaker(backend.engine), smtp_url=smtp.url, mail_from="f@x.org")
        for _ in range(2)
    ]
    await _enqueue(backend, 12)
    attempted = await asyncio.gather(*(s.send_due() for s in senders))
    assert sum(attempted) == 12
    assert sorted(m["Subject"] for m in smtp.inbox.messages) == sorted(
        f"Message {i}" for i in range(12)
    )


async def test_without_smtp_the_log_names_each_letter_but_never_its_text(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """A letter's text can hold a secret (a sign-in link): it never goes to a log."""
    sender = outbox.Sender(make_sessionmaker(backend.engine), smtp_url=None, mail_from="f@x.org")
    await _enqueue(backend, body="Your link: https://x.org/f/a/me#code=fc_secret")
    with caplog.at_level("DEBUG"):
        assert await sender.send_due() == 1
    assert "mail to p0@example.org: Message 0" in caplog.text
    assert "fc_secret" not in caplog.text
    assert [m.sent_at is not None for m in await _rows(backend)] == [True]


async def test_without_smtp_a_mail_folder_gets_each_letter_as_an_eml_file(
    backend: Backend, tmp_path: Path
) -> None:
    sender = outbox.Sender(
        make_sessionmaker(backend.engine), smtp_url=None, mail_from="f@x.org", mail_dir=tmp_path
    )
    await _enqueue(backend, 2, body="Hello there")
    assert await sender.send_due() == 2
    letters = [
        email.message_from_bytes(data, policy=default)
        for data in await asyncio.to_thread(
            lambda: [f.read_bytes() for f in tmp_path.glob("*.eml")]
        )
    ]
    assert sorted(m["Subject"] for m in letters) == ["Message 0", "Message 1"]
    plain = letters[0].get_body(("plain",))
    assert isinstance(plain, EmailMessage)
    assert "Hello there" in plain.get_content()


async def test_a_delivered_letter_keeps_its_words_but_no_working_secret(
    backend: Backend, tmp_path: Path
) -> None:
    secret = "fs_" + "k" * 43
    await _enqueue(backend, body=f"Moderate here: https://x.org/moderate/1?token={secret}")
    sender = outbox.Sender(
        make_sessionmaker(backend.engine), smtp_url=None, mail_from="f@x.org", mail_dir=tmp_path
    )
    assert await sender.send_due() == 1
    delivered = await asyncio.to_thread(lambda: [f.read_bytes() for f in tmp_path.glob("*.eml")])
    plain = email.message_from_bytes(delivered[0], policy=default).get_body(("plain",))
    assert isinstance(plain, EmailMessage)
    assert secret in plain.get_content()  # the person got it
    [row] = await _rows(backend)
    assert secret not in row.body
    assert "token=fs_[sent]" in row.body


async def test_over_smtp_the_sign_in_link_signs_a_second_device_in_and_strangers_get_nothing(
    backend: Backend, settings: Settings, smtp: SmtpServer
) -> None:
    """Issue 17's mail, end to end over a real SMTP server: the registration's letter
    points to the sign-in page; asking there mails a one-time link that gives a
    second device its own tokens, once; an unknown address gets the same reply and
    no mail."""
    application = create_app(settings.model_copy(update={"smtp_url": smtp.url}))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            made, _ = await open_festival(client, backend.engine, name="Link Fest")
            slug = made["slug"]
            await registered(client, slug, email="ada@example.org")
            await _eventually(lambda: len(smtp.inbox.messages) == 1)
            first = smtp.inbox.messages[0].get_body(("plain",))
            assert isinstance(first, EmailMessage)
            assert f"{settings.base_url}/f/{slug}/me" in first.get_content()

            ask = f"/api/v1/festivals/{slug}/access-links"
            known = await client.post(ask, json={"email": "ada@example.org"})
            unknown = await client.post(ask, json={"email": "nobody@example.org"})
            assert known.status_code == unknown.status_code == 202
            assert known.json() == unknown.json()
            await _eventually(lambda: len(smtp.inbox.messages) == 2)
            letter = smtp.inbox.messages[1]
            assert letter["To"] == "ada@example.org"
            text = letter.get_body(("plain",))
            assert isinstance(text, EmailMessage)
            found = re.search(r"/f/[^/\s]+/me#code=(fc_[A-Za-z0-9_-]+)", text.get_content())
            assert found is not None
            signed = await client.post("/api/v1/auth/attendee", json={"code": found.group(1)})
            assert signed.status_code == 201, signed.text
            me = await client.get(
                "/api/v1/me", headers={"Authorization": f"Bearer {signed.json()['attendee_token']}"}
            )
            assert me.json()["email"] == "ada@example.org"
            again = await client.post("/api/v1/auth/attendee", json={"code": found.group(1)})
            assert again.status_code == 410
            await asyncio.sleep(0.5)  # time enough for a letter that must not come
    assert [m["To"] for m in smtp.inbox.messages] == ["ada@example.org", "ada@example.org"]
