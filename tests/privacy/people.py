"""A festival where two attendees leave every kind of trace, and a search of the whole database."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

import festival.models
import realtime.models
import schedule.models
import tickets.models
from festival.auth import hash_token
from festival.db import Base
from tests.factories import festival as ff
from tests.factories import schedule as sf
from tests.factories import tickets as tf
from tests.factories.festival import auth

_ = (festival.models, schedule.models, tickets.models, realtime.models)
API = "/api/v1"


@dataclass
class Person:
    """An attendee whose every string is unique to them."""

    tag: str
    name: str
    email: str
    organisation: str
    country: str
    token: str = ""
    feed: str = ""
    id: str = ""
    qr: str = ""
    said: list[str] = field(default_factory=list)  # their question and poll texts

    @classmethod
    def made(cls, label: str) -> Person:
        tag = f"{label}{uuid.uuid4().hex[:8]}"
        return cls(
            tag,
            f"Zelda {tag.title()}",
            f"zelda-{tag}@example.org",
            f"Org-{tag}",
            f"Land-{tag}",
        )

    def secrets(self) -> list[str]:
        """Their secrets, and what the database would keep of them."""
        return [self.token, self.feed, hash_token(self.token), hash_token(self.feed)]

    def identity(self) -> list[str]:
        """What names them: erasure leaves none of it anywhere."""
        return [self.name, self.email, self.organisation, self.country, *self.secrets()]


@dataclass
class Scene:
    slug: str
    festival_id: str
    organiser: str
    door: str
    keynote: str
    workshop: str
    poll: str
    text_poll: str
    people: dict[str, Person]


async def scene(client: httpx.AsyncClient, engine: AsyncEngine, **overrides: Any) -> Scene:
    """A published festival with a live keynote, a workshop and two polls; attendees
    ``a`` and ``b`` each register (with consent, one with an Idempotency-Key), take a
    seat, favourite, are checked in, ask a named and an anonymous question, upvote the
    other's, and answer both polls."""
    organiser = await tf.fast_organiser(engine)
    made = await ff.festival(client, organiser, terms="Be kind.", **overrides)
    slug = made["slug"]
    keynote = await sf.session(
        client,
        organiser,
        slug,
        "2030-10-08T09:00:00+02:00",
        "2030-10-08T10:00:00+02:00",
        live_qa=True,
    )
    workshop = await sf.session(
        client,
        organiser,
        slug,
        "2030-10-08T11:00:00+02:00",
        "2030-10-08T12:00:00+02:00",
        format="workshop",
        capacity=5,
    )
    live, mod = f"{API}/sessions/{keynote['id']}", auth(organiser)
    await client.patch(f"{live}/live", json={"pre_moderation": False}, headers=mod)
    polls = []
    poll_bodies: list[dict[str, Any]] = [
        {"question": "Coffee?", "kind": "single", "options": ["Yes", "No"]},
        {"question": "One word?", "kind": "text"},
    ]
    for body in poll_bodies:
        poll = (await client.post(f"{live}/polls", json=body, headers=mod)).json()
        opened = await client.post(f"{live}/polls/{poll['id']}/open", headers=mod)
        assert opened.status_code == 200, opened.text
        polls.append(poll)
    door = await tf.staff_token(client, organiser, slug)
    people = {"a": Person.made("a"), "b": Person.made("b")}
    for key, person in people.items():
        registration: dict[str, Any] = {
            "name": person.name,
            "email": person.email,
            "organisation": person.organisation,
            "country": person.country,
            "consent": {"terms_version": made["terms_version"], "photo": True, "contact": False},
        }
        headers = {"Idempotency-Key": f"key-{person.tag}"} if key == "a" else {}
        reply = await client.post(
            f"{API}/festivals/{slug}/registrations", json=registration, headers=headers
        )
        assert reply.status_code == 201, reply.text
        got = reply.json()
        person.token, person.feed, person.id = got["attendee_token"], got["feed_token"], got["id"]
        person.qr = got["ticket"]["qr"]
        me = auth(person.token)
        assert (await client.put(f"{API}/me/seats/{workshop['id']}", headers=me)).is_success
        assert (await client.put(f"{API}/me/favourites/{keynote['id']}", headers=me)).is_success
        scanned = await client.post(
            f"{API}/festivals/{slug}/checkins",
            json={"qr": person.qr, "gate": "North"},
            headers=auth(door),
        )
        assert scanned.status_code == 201, scanned.text
        for anonymous in (False, True):
            text = f"{'Secretly' if anonymous else 'Openly'} {person.tag}?"
            asked = await client.post(
                f"{live}/questions", json={"text": text, "anonymous": anonymous}, headers=me
            )
            assert asked.status_code == 201, asked.text
            person.said.append(text)
        voted = await client.post(
            f"{live}/polls/{polls[0]['id']}/votes",
            json={"option_ids": [polls[0]["options"][0]["id"]]},
            headers=me,
        )
        assert voted.status_code in (200, 201), voted.text
        answer = f"word{person.tag}"
        voted = await client.post(
            f"{live}/polls/{polls[1]['id']}/votes", json={"text": answer}, headers=me
        )
        assert voted.status_code in (200, 201), voted.text
    # Each upvotes the other's questions.
    questions = (await client.get(f"{live}/questions", headers=mod)).json()["items"]
    for person in people.values():
        for question in questions:
            if person.tag not in question["text"]:
                up = await client.post(
                    f"{live}/questions/{question['id']}/vote",
                    json={"up": True},
                    headers=auth(person.token),
                )
                assert up.status_code in (200, 201), up.text
    return Scene(
        slug,
        made["id"],
        organiser,
        door,
        keynote["id"],
        workshop["id"],
        polls[0]["id"],
        polls[1]["id"],
        people,
    )


async def holding(engine: AsyncEngine, needles: list[str]) -> dict[str, list[str]]:
    """Which ``table.column`` of the whole database holds each needle (as text)."""
    found: dict[str, list[str]] = {n: [] for n in needles if n}
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in (await connection.execute(select(table))).mappings():
                for column, value in row.items():
                    if value is None or isinstance(value, bytes | bool | int):
                        continue
                    text = (
                        json.dumps(value, ensure_ascii=False)
                        if isinstance(value, dict | list)
                        else str(value)
                    )
                    for needle in found:
                        if needle in text:
                            found[needle].append(f"{table.name}.{column}")
    return {needle: where for needle, where in found.items() if where}


async def snapshot(engine: AsyncEngine) -> dict[str, list[str]]:
    """Every row of every table, as sorted text: equal snapshots, equal databases."""
    tables: dict[str, list[str]] = {}
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = (await connection.execute(select(table))).mappings()
            tables[table.name] = sorted(
                json.dumps(dict(row), default=str, sort_keys=True) for row in rows
            )
    return tables


async def counts(client: httpx.AsyncClient, s: Scene) -> dict[str, Any]:
    """What the festival counts: check-ins, registrations, questions and votes, polls."""
    org = auth(s.organiser)
    live = f"{API}/sessions/{s.keynote}"
    stats = (await client.get(f"{API}/festivals/{s.slug}/checkins/stats", headers=org)).json()
    questions = (await client.get(f"{live}/questions", headers=org)).json()["items"]
    results = [
        (await client.get(f"{live}/polls/{poll}/results", headers=org)).json()
        for poll in (s.poll, s.text_poll)
    ]
    for result in results:
        result.pop("version", None)
    return {
        # (A session's door is listed while seats are held: cancelling releases them.)
        "checked_in": [
            (row["list"], row["checked_in"]) for row in stats["lists"] if row["checked_in"]
        ],
        "registered": sum(stats["registrations"].values()),
        "questions": sorted((q["text"], q["votes"], q["status"]) for q in questions),
        "polls": results,
    }
