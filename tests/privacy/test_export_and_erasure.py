"""An attendee takes out everything Festival holds about them, then has it erased."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select, text

from festival.db import Base
from festival.privacy import PERSONAL
from tests.conftest import Backend
from tests.factories.festival import auth, team_member
from tests.privacy.people import API, Person, counts, holding, scene

# How to find one attendee's rows in each table the inventory lists for attendees
# (:rid: the registration id; questions asked anonymously are found by their seal).
ROWS = {
    "registrations": "id = :rid",
    "tokens": "subject_id = :rid",
    "outbox": "registration_id = :rid",
    "checkins": "ticket_id IN (SELECT id FROM tickets WHERE registration_id = :rid)",
    "live_questions": "author_id = :rid",
    "live_poll_ballots": "voter_id = :rid",
    "access_codes": "registration_id = :rid",
    "registration_answers": "registration_id = :rid",
}


# What erasure keeps on purpose, linked to nobody: a question's and a poll answer's text.
OUTLIVE = {"live_questions.text", "live_poll_ballots.text"}


def _leaves(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_leaves(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_leaves(v) for v in value)) if value else set()
    return {str(value)} if value is not None else set()


async def _their_values(backend: Backend, person: Person) -> dict[str, set[str]]:
    """Every value the inventory lists for attendees, read from their rows."""
    values: dict[str, set[str]] = {}
    async with backend.engine.connect() as connection:
        for field in PERSONAL:
            if field.whose != "attendee" or not field.exported:
                continue
            assert field.table in ROWS, f"say in ROWS how to find {field.table}'s rows"
            table = Base.metadata.tables[field.table]
            rows = await connection.execute(
                select(table.c[field.column]).where(text(ROWS[field.table])),
                {
                    "rid": uuid.UUID(person.id).hex
                    if backend.name == "sqlite"
                    else uuid.UUID(person.id)
                },
            )
            for (value,) in rows:
                if isinstance(value, datetime):
                    continue  # times are exported in ISO form with their offset
                if value is not None:
                    values.setdefault(f"{field.table}.{field.column}", set()).add(
                        str(value).lower() if isinstance(value, bool) else str(value)
                    )
    return values


async def test_the_export_holds_everything_listed_for_them_and_nothing_of_anyone_else(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    s = await scene(client, backend.engine)
    a, b = s.people["a"], s.people["b"]
    reply = await client.get(f"{API}/me/export", headers=auth(a.token))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-disposition"].startswith("attachment")
    export = reply.json()
    leaves = {leaf.lower() if leaf in ("True", "False") else leaf for leaf in _leaves(export)}
    missing = {
        column: sorted(v for v in values if v not in leaves)
        for column, values in (await _their_values(backend, a)).items()
    }
    assert {column: v for column, v in missing.items() if v} == {}
    # Their anonymous question too, which no column links to them.
    assert sorted(q["text"] for q in export["questions"]) == sorted(a.said)
    assert [q["anonymous"] for q in sorted(export["questions"], key=lambda q: q["text"])] == [
        False,
        True,
    ]
    assert export["registration"]["consent"]["photo"] is True
    assert len(export["poll_votes"]) == 2
    assert len(export["question_votes"]) == 2
    body = json.dumps(export, ensure_ascii=False)
    assert [x for x in [b.name, b.email, b.organisation, *b.said, *b.secrets()] if x in body] == []

    # The organiser's export of the same person (logged) has no anonymous question.
    registrar = await team_member(backend.engine, s.festival_id, "registrations")
    theirs = await client.get(
        f"{API}/festivals/{s.slug}/registrations/{a.id}/export", headers=auth(registrar)
    )
    assert theirs.status_code == 200, theirs.text
    assert [q["text"] for q in theirs.json()["questions"]] == [f"Openly {a.tag}?"]
    log = await client.get(f"{API}/festivals/{s.slug}/privacy-log", headers=auth(s.organiser))
    assert [(e["action"], e["registration_id"]) for e in log.json()["items"]] == [("export", a.id)]


async def test_after_erasure_no_table_holds_them_and_the_counts_stand(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    s = await scene(client, backend.engine)
    a, b = s.people["a"], s.people["b"]
    before = await counts(client, s)
    assert await holding(backend.engine, a.identity()) != {}  # there was something to erase
    # Every value the inventory lists for them that is theirs alone (it carries their tag),
    # but the texts that outlive them unlinked: a column listed later is checked too.
    theirs = {
        column: [v for v in values if a.tag in v.lower()]
        for column, values in (await _their_values(backend, a)).items()
        if column not in OUTLIVE
    }
    listed = [value for values in theirs.values() for value in values]
    assert {"registrations.email", "outbox.body", "live_questions.author_name"} <= {
        column for column, values in theirs.items() if values
    }

    erased = await client.delete(f"{API}/me", headers=auth(a.token))
    assert erased.status_code == 204, erased.text

    assert await holding(backend.engine, [*a.identity(), *listed]) == {}
    assert (await client.get(f"{API}/me", headers=auth(a.token))).status_code == 401
    feed = await client.get(f"{API}/me/agenda.ics", params={"token": a.feed})
    assert feed.status_code == 404
    assert await counts(client, s) == before
    # The anonymous question's text survives, linked to nobody; B is untouched.
    assert set(await holding(backend.engine, [f"Secretly {a.tag}?"])) == {f"Secretly {a.tag}?"}
    assert set(await holding(backend.engine, b.identity()[:4])) == set(b.identity()[:4])
    assert (await client.get(f"{API}/me", headers=auth(b.token))).status_code == 200

    # An organiser with the registrations role erases B, logged; twice is harmless.
    registrar = await team_member(backend.engine, s.festival_id, "registrations")
    for _ in range(2):
        gone = await client.delete(
            f"{API}/festivals/{s.slug}/registrations/{b.id}", headers=auth(registrar)
        )
        assert gone.status_code == 204, gone.text
    assert await holding(backend.engine, b.identity()) == {}
    assert await counts(client, s) == before
    log = await client.get(f"{API}/festivals/{s.slug}/privacy-log", headers=auth(s.organiser))
    assert [e["action"] for e in log.json()["items"]] == ["erase", "erase"]
