"""A seat that comes free for someone on the waiting list is shown on their open
live page at once, besides the e-mail (issue 19)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from festival.db import make_sessionmaker, unit_of_work
from schedule.models import Session
from tests.conftest import Backend, LiveServer
from tests.factories.festival import auth
from tests.factories.tickets import DAY_ONE, open_festival, programme_session, registered
from tests.realtime.clients import LiveClient
from tickets import no_shows


async def test_the_promoted_attendees_live_page_hears_of_the_seat(
    live_server: LiveServer, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        made, _ = await open_festival(client, backend.engine, mode="onsite")
        slug = made["slug"]
        workshop = await programme_session(backend.engine, made["id"], title="Soil", capacity=1)
        keynote = await programme_session(
            backend.engine, made["id"], title="Keynote", starts_at=DAY_ONE - timedelta(hours=2)
        )
        async with unit_of_work(make_sessionmaker(backend.engine)) as session:
            await session.execute(update(Session).where(Session.id == keynote).values(live_qa=True))
        people = []
        for name in ("Ada", "Bo"):
            person = await registered(client, slug, name=name, email=f"{name}@example.org")
            seat = await client.put(
                f"/api/v1/me/seats/{workshop}", headers=auth(person["attendee_token"])
            )
            assert seat.status_code == 200, seat.text
            people.append(person)
        ada, bo = people
        waiting = await LiveClient.open(live_server.ws_url, keynote, bo["attendee_token"])
        holder = await LiveClient.open(live_server.ws_url, keynote, ada["attendee_token"])
        for live in (waiting, holder):
            await live.event("snapshot")

        async with unit_of_work(make_sessionmaker(backend.engine)) as session:
            moved = await no_shows.release_due(session, DAY_ONE + timedelta(minutes=11))
        assert moved == 1
        notice = await waiting.event("notice")
        assert notice["data"]["kind"] == "seat.confirmed"
        assert notice["data"]["session_id"] == str(workshop)
        assert "Soil" in notice["data"]["text"]
        assert await holder.ok("ping") == {"pong": True}  # the released holder got a letter only
        for live in (waiting, holder):
            await live.close()
