"""Issue 16, item 5 (the log part): no token and no ``Authorization`` value in any log line.

Found: ``festival serve``'s access log printed ``?token=fa_…``, ``?token=fs_…``
and feed tokens from page, feed and websocket URLs (14 live tokens in one short
log). Here the real command runs at ``DEBUG`` (its most talkative: the
websockets library then prints every handshake header too), every kind of
token travels in a URL and in a header, and the log must name none of them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from api.http import access_log
from api.http.access_log import redact
from tests.conftest import Backend
from tests.factories import schedule as sf
from tests.factories.festival import auth, festival
from tests.factories.tickets import fast_organiser, registered, staff_token
from tests.security.served import festival_serve


async def test_serve_logs_no_token_at_debug(backend: Backend, tmp_path: Path) -> None:
    with festival_serve(tmp_path, backend.url, FESTIVAL_LOG_LEVEL="DEBUG") as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=20) as client:
            organiser = await fast_organiser(backend.engine)
            slug = (await festival(client, organiser))["slug"]
            talk = await sf.session(
                client,
                organiser,
                slug,
                "2030-10-08T09:00:00+02:00",
                "2030-10-08T10:00:00+02:00",
                live_qa=True,
            )
            person = await registered(client, slug)
            attendee, feed = person["attendee_token"], person["feed_token"]
            door = await staff_token(client, organiser, slug, "checkin")
            moderator = await staff_token(client, organiser, slug, "moderator")
            projector = (
                await client.post(
                    f"/api/v1/sessions/{talk['id']}/projector-links", headers=auth(moderator)
                )
            ).json()["token"]
            secrets = {organiser, attendee, feed, door, moderator, projector}
            assert all(s.startswith(("fo_", "fa_", "ff_", "fs_", "fp_")) for s in secrets)

            # Magic links, the calendar feed, the projector link: the token in the URL.
            urls = [
                f"/live/{talk['id']}?token={attendee}",
                f"/f/{slug}/ticket?token={attendee}",
                f"/checkin/{slug}?token={door}",
                f"/moderate/{talk['id']}?token={moderator}",
                f"/present/{talk['id']}?token={projector}",
                f"/api/v1/me/agenda.ics?token={feed}",
                f"/api/v1/me/agenda.ics?day=1&token={feed}&x=1",
            ]
            for url in urls:
                assert (await client.get(url)).status_code == 200, url
            # Bearer tokens in headers, a refused one included.
            assert (await client.get("/api/v1/me", headers=auth(attendee))).status_code == 200
            refused = await client.get("/api/v1/me", headers=auth(organiser + "x"))
            assert refused.status_code == 401
        # The live socket: accepted with ?token=, and with a header the debug log prints.
        live = f"{served.ws_url}/ws/sessions/{talk['id']}"
        async with connect(f"{live}?token={attendee}") as socket:
            await socket.recv()  # the snapshot
        async with connect(f"{live}?token={moderator}", additional_headers=auth(moderator)):
            pass
        with pytest.raises(InvalidStatus):
            async with connect(f"{live}?token={feed}"):
                pass
    log = served.log_text()
    leaked = sorted(s[:8] for s in secrets if s in log or s[3:] in log)
    assert leaked == [], f"tokens in the log: {leaked}"
    assert f'"GET /live/{talk["id"]}?token=[redacted] HTTP/1.1" 200' in log
    assert "/api/v1/me/agenda.ics?day=1&token=[redacted]&x=1" in log
    assert f'"WebSocket /ws/sessions/{talk["id"]}?token=[redacted]" [accepted]' in log
    assert "< authorization: Bearer [redacted]" in log  # the handshake's headers, at DEBUG


@pytest.mark.parametrize(
    ("line", "redacted"),
    [
        ("GET /live/x?token=fa_abc HTTP/1.1", "GET /live/x?token=[redacted] HTTP/1.1"),
        ("/a?since=4&token=abc%2F&b=1", "/a?since=4&token=[redacted]&b=1"),
        ("/cb?access_token=abc#frag", "/cb?access_token=[redacted]#frag"),
        ("< Authorization: Bearer fo_abc", "< Authorization: [redacted]"),
        ("(b'authorization', b'Bearer fo_abc')", "(b'authorization', b'Bearer [redacted]')"),
        ("stray fs_" + "A" * 43 + " here", "stray fs_[redacted] here"),
        ("nothing secret /f/festival?day=2", "nothing secret /f/festival?day=2"),
    ],
)
def test_redaction(line: str, redacted: str) -> None:
    assert redact(line) == redacted


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_every_logger_redacts_and_keeps_its_arguments() -> None:
    """Arguments are redacted one by one, so a formatter that reads them (uvicorn's
    access formatter takes five) still gets five, and placeholders survive."""
    access_log.install()
    access_log.install()  # once is enough; twice changes nothing
    kept = _Kept()
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "tickets.outbox")]
    for logger in loggers:
        logger.addHandler(kept)
    try:
        loggers[0].warning(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/x?token=fa_s", "1.1", 200
        )
        loggers[1].warning("link: /live/1?token=fa_secret")
    finally:
        for logger in loggers:
            logger.removeHandler(kept)
    first, second = kept.records
    assert first.args == ("127.0.0.1:5", "GET", "/x?token=[redacted]", "1.1", 200)
    assert first.getMessage() == '127.0.0.1:5 - "GET /x?token=[redacted] HTTP/1.1" 200'
    assert second.getMessage() == "link: /live/1?token=[redacted]"
