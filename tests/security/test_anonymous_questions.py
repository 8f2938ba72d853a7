"""An anonymous question keeps no link to its author (issue 16, finding 8).

Before: the row of an anonymous question kept ``author_id`` (the asker's
registration id), so a database dump told who asked. Now the row keeps neither
name nor id from the moment it is asked; the asker still gets their question
back, and sees it like everyone else once it is approved.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from festival.auth import hash_token
from festival.migrate import upgrade
from festival.models import Token
from realtime.models import ModerationAction, Question
from tests.conftest import Backend
from tests.factories.festival import auth
from tests.factories.realtime import live_session


async def _subject(backend: Backend, raw: str) -> uuid.UUID:
    async with backend.engine.connect() as connection:
        subject = await connection.scalar(
            select(Token.subject_id).where(Token.token_hash == hash_token(raw))
        )
    assert subject is not None
    return subject


async def _rows(backend: Backend, model: type, **where: object) -> list[dict[str, object]]:
    async with backend.engine.connect() as connection:
        table = model.__table__  # type: ignore[attr-defined]
        stmt = select(table).where(*(table.c[k] == v for k, v in where.items()))
        return [dict(row._mapping) for row in await connection.execute(stmt)]


async def test_an_anonymous_question_row_names_no_author_while_the_asker_still_sees_it(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    asker = await live.attendee("Ada Lovelace")
    moderator = await live.moderator()
    subject = await _subject(backend, asker)
    url = f"/api/v1/sessions/{live.session_id}/questions"

    asked = await client.post(
        url, json={"text": "Is the budget real?", "anonymous": True}, headers=auth(asker)
    )
    assert asked.status_code == 201, asked.text
    mine = asked.json()
    assert (mine["text"], mine["anonymous"], mine["author"]) == ("Is the budget real?", True, None)
    named = await client.post(url, json={"text": "Signed question"}, headers=auth(asker))
    assert named.status_code == 201, named.text

    # The data that could leak is there: the named question links to its author.
    (signed,) = await _rows(backend, Question, id=uuid.UUID(named.json()["id"]))
    assert (signed["author_id"], signed["author_name"]) == (subject, "Ada Lovelace")
    # The anonymous one links to no one, in any column.
    (row,) = await _rows(backend, Question, id=uuid.UUID(mine["id"]))
    assert (row["author_id"], row["author_name"], row["anonymous"]) == (None, None, True)
    assert [k for k, v in row.items() if str(subject) in str(v) or "Ada" in str(v)] == []

    approve = await client.patch(
        f"{url}/{mine['id']}", json={"action": "approve"}, headers=auth(moderator)
    )
    assert approve.status_code == 200, approve.text

    # The asker sees their question as everyone does: anonymous, without a name.
    seen = {q["id"]: q for q in (await client.get(url, headers=auth(asker))).json()["items"]}
    assert (seen[mine["id"]]["anonymous"], seen[mine["id"]]["author"]) == (True, None)
    queue = (await client.get(url, headers=auth(moderator))).json()["items"]
    assert [q["author"] for q in queue if q["id"] == mine["id"]] == [None]

    # The moderation trail names the moderator, never the anonymous asker.
    audits = await _rows(backend, ModerationAction, question_id=uuid.UUID(mine["id"]))
    assert len(audits) == 1
    assert str(subject) not in str(audits)


async def test_the_migration_empties_the_author_of_anonymous_questions_asked_before(
    tmp_path: Path,
) -> None:
    """Questions asked before the fix lose the link too; signed ones keep theirs."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'before.db'}"
    # A plain engine: SQLite checks no foreign keys unless asked, so the rows
    # need no festival and session of their own (on the way up too).
    engine = create_async_engine(url)
    await upgrade(engine, "0007")
    author = uuid.uuid4()
    rows = {uuid.uuid4(): True, uuid.uuid4(): False}  # question id -> anonymous
    async with engine.begin() as connection:
        for qid, anonymous in rows.items():
            await connection.execute(
                text(
                    "INSERT INTO live_questions (id, session_id, author_id, author_name, "
                    "anonymous, text, status, highlighted, votes, votes_version, revision, "
                    "created_at, updated_at) VALUES (:id, :session, :author, NULL, :anonymous, "
                    "'Q', 'approved', 0, 0, 0, 0, '2026-12-01 10:00:00', '2026-12-01 10:00:00')"
                ),
                {
                    "id": qid.hex,
                    "session": uuid.uuid4().hex,
                    "author": author.hex,
                    "anonymous": anonymous,
                },
            )
    await upgrade(engine)
    async with engine.connect() as connection:
        found = await connection.execute(select(Question.id, Question.author_id))
        kept = {qid: author_id for qid, author_id in found}
    await engine.dispose()
    assert kept == {qid: None if anonymous else author for qid, anonymous in rows.items()}
