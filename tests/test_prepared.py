"""A prepared hot statement reads and writes what SQLAlchemy would, on either path."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api.http.problems import database_lost
from festival.auth import TOKEN_COLUMNS, hash_token, issue_token
from festival.db import (
    Prepared,
    autocommit_connection,
    autocommit_options,
    make_engine,
    make_sessionmaker,
    unit_of_work,
)
from festival.models import Token
from tests.conftest import POSTGRES_ONLY, Backend

# With literals written into the statement too (a compared value, a LIMIT).
TOKEN = Prepared(
    select(*TOKEN_COLUMNS)
    .where(Token.token_hash == bindparam("token_hash"), Token.kind != "organiser")
    .limit(1)
)
INSERT_TOKEN = Prepared(insert(Token).returning(Token.id))


async def test_a_row_reads_the_same_in_autocommit_and_in_a_transaction(backend: Backend) -> None:
    """On PostgreSQL in autocommit the statement runs on asyncpg itself; in a
    transaction (and on SQLite) through SQLAlchemy. Both give the same values:
    UUIDs, JSON decoded, timestamps tz-aware."""
    sessions = make_sessionmaker(backend.engine)
    expires = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with unit_of_work(sessions) as session:
        _, raw = await issue_token(
            session, "staff", role="checkin", session_ids=["a", "b"], expires_at=expires
        )
    params = {"token_hash": hash_token(raw)}
    async with unit_of_work(sessions) as session:
        plain = await TOKEN.first(await session.connection(), params)
    async with unit_of_work(sessions) as session:
        fast = await TOKEN.first(await _autocommit(session, backend), params)
    assert plain is not None
    assert fast is not None
    assert tuple(fast) == tuple(plain)
    by_name = dict(zip([c.key for c in TOKEN_COLUMNS], fast, strict=True))
    assert by_name["session_ids"] == ["a", "b"]
    assert by_name["expires_at"] == expires
    assert isinstance(by_name["id"], uuid.UUID)
    async with unit_of_work(sessions) as session:
        assert await TOKEN.first(await _autocommit(session, backend), {"token_hash": "-"}) is None


async def test_an_insert_in_autocommit_is_durable_and_typed(backend: Backend) -> None:
    """The driver path converts values with the column types (JSON, UTC timestamps)."""
    sessions = make_sessionmaker(backend.engine)
    row = {
        "id": uuid.uuid4(),
        "kind": "staff",
        "token_hash": hash_token(f"raw-{uuid.uuid4()}"),
        "account_id": None,
        "festival_id": None,
        "role": "checkin",
        "session_ids": ["x"],
        "subject_id": None,
        "label": "Door ✓",
        "device": None,
        "expires_at": None,
        "revoked_at": None,
        "created_at": datetime.now(UTC),
    }
    async with unit_of_work(sessions) as session:
        written = await INSERT_TOKEN.first(await _autocommit(session, backend), row)
    assert written is not None
    assert written[0] == row["id"]
    async with unit_of_work(sessions) as session:
        back = await session.get_one(Token, row["id"])
    assert (back.session_ids, back.label, back.created_at) == (
        ["x"],
        "Door ✓",
        row["created_at"],
    )


# Every token of a label, oldest first (``all``: every row, in order).
TOKENS_LABELLED = Prepared(
    select(Token.id, Token.session_ids)
    .where(Token.label == bindparam("label"))
    .order_by(Token.created_at)
)


async def test_all_rows_read_the_same_in_autocommit_and_in_a_transaction(
    backend: Backend,
) -> None:
    sessions = make_sessionmaker(backend.engine)
    label = f"Gate {uuid.uuid4().hex[:8]}"
    made = []
    async with unit_of_work(sessions) as session:
        for n in range(3):
            token, _ = await issue_token(
                session, "staff", role="checkin", session_ids=[str(n)], label=label
            )
            made.append(token.id)
            await session.flush()
    params = {"label": label}
    async with unit_of_work(sessions) as session:
        plain = await TOKENS_LABELLED.all(await session.connection(), params)
    async with unit_of_work(sessions) as session:
        fast = await TOKENS_LABELLED.all(await _autocommit(session, backend), params)
    assert [tuple(r) for r in fast] == [tuple(r) for r in plain]
    assert [r[0] for r in fast] == made
    assert [r[1] for r in fast] == [["0"], ["1"], ["2"]]
    async with unit_of_work(sessions) as session:
        none = await TOKENS_LABELLED.all(await _autocommit(session, backend), {"label": "-"})
    assert list(none) == []


async def _autocommit(session: AsyncSession, backend: Backend) -> AsyncConnection:
    """The session's connection, in autocommit where that takes the driver path."""
    options = autocommit_options(session)
    assert bool(options) == (backend.name == "postgresql")
    return await session.connection(execution_options=options)


@POSTGRES_ONLY
async def test_a_refused_connection_is_raised_as_engine_connect_raises_it(
    backend: Backend,
) -> None:
    """The door's connection without a session comes from the pool directly. A
    server that refuses the connection (here: no such database; in a restart:
    "the database system is shutting down") must come out as engine.connect()
    says it, a DBAPIError that the API tells apart (a lost database is a 503,
    retry), not as the driver's own error, which the API can only call a 500."""
    url = make_url(backend.url).set(database="festival_no_such_database")
    engine = make_engine(url.render_as_string(hide_password=False), pool_size=1)
    try:
        with pytest.raises(DBAPIError) as at_once:
            async with autocommit_connection(engine):
                pass
        with pytest.raises(DBAPIError) as usual:
            async with engine.connect():
                pass
        assert type(at_once.value) is type(usual.value)
        assert database_lost(at_once.value) == database_lost(usual.value)
    finally:
        await engine.dispose()
