"""The organiser's messages to attendees: audiences, preview, delivery counts (issue 17)."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from festival.db import make_sessionmaker
from tests.conftest import Backend, LiveServer
from tests.factories.festival import auth
from tests.factories.tickets import letters_to, open_festival, programme_session, registered
from tickets import outbox


async def test_a_message_reaches_its_audience_once_and_its_delivery_is_counted(
    live_server: LiveServer, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        made, token = await open_festival(client, backend.engine, capacity=2)
        slug, base = made["slug"], f"/api/v1/festivals/{made['slug']}/messages"
        ada = await registered(client, slug, name="Ada", email="ada@example.org")
        await registered(client, slug, name="Bo", email="bo@example.org")
        cy = await registered(client, slug, name="Cy", email="cy@example.org")
        assert cy["status"] == "waitlisted"
        talk = await programme_session(backend.engine, made["id"], title="Soil")
        liked = await client.put(
            f"/api/v1/me/favourites/{talk}", headers=auth(ada["attendee_token"])
        )
        assert liked.status_code == 204

        body = {"subject": "Doors open at nine", "body": "Bring your ticket.", "to": "confirmed"}
        preview = await client.post(f"{base}/preview", json=body, headers=auth(token))
        assert preview.status_code == 200, preview.text
        assert preview.json()["recipients"] == 2
        assert preview.json()["body"].startswith("Hello <name>,\n\nBring your ticket.")
        assert await letters_to(backend.engine, "ada@example.org") != []  # the confirmation only
        counts = {}
        for to in ("confirmed", "waitlisted", "all", f"session:{talk}"):
            sent = await client.post(base, json=body | {"to": to}, headers=auth(token))
            assert sent.status_code == 201, sent.text
            counts[to] = sent.json()["recipients"]
        assert counts == {"confirmed": 2, "waitlisted": 1, "all": 3, f"session:{talk}": 1}
        kinds = [m.kind for m in await letters_to(backend.engine, "ada@example.org")]
        assert kinds.count("message") == 3  # confirmed, all, the session
        listed = (await client.get(base, headers=auth(token))).json()
        assert [m["to"] for m in listed][-1] == "confirmed"  # newest first
        assert all(m["sent"] + m["waiting"] == m["recipients"] for m in listed)

        # Deliver what is due here; the server's own sender may hold a lease on some
        # letters for a moment, so look until every letter is out.
        sender = outbox.Sender(
            make_sessionmaker(backend.engine), smtp_url=None, mail_from="f@x.org"
        )
        for _ in range(200):
            await sender.send_due()
            listed = (await client.get(base, headers=auth(token))).json()
            if all(m["waiting"] == 0 for m in listed):
                break
            await asyncio.sleep(0.05)
        assert {(m["sent"], m["waiting"], m["failing"]) for m in listed} == {
            (2, 0, 0), (1, 0, 0), (3, 0, 0)
        }  # fmt: skip

        # Bad audiences are refused, naming the field; attendees cannot send.
        for bad in ("everyone", f"session:{uuid.uuid4()}", "session:nope"):
            refused = await client.post(base, json=body | {"to": bad}, headers=auth(token))
            assert refused.status_code == 422, refused.text
            assert refused.json()["errors"][0]["field"] == "to"
        attendee = await client.post(base, json=body, headers=auth(ada["attendee_token"]))
        assert attendee.status_code in (401, 403)
