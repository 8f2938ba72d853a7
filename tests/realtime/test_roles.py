"""Who may join a live session, checked on a real uvicorn before the socket is accepted."""

from __future__ import annotations

import uuid

import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import Backend, LiveServer
from tests.factories.realtime import live_session, token
from tests.realtime.clients import LiveClient


async def _refused(server: LiveServer, session_id: object, raw: str) -> int:
    with pytest.raises(InvalidStatus) as caught:
        await LiveClient.open(server.ws_url, session_id, raw)
    status: int = caught.value.response.status_code
    return status


async def test_each_role_joins_and_gets_a_snapshot_for_its_role(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    roles = {
        "attendee": await live.attendee(),
        "moderator": await live.moderator(),
        "projector": await live.projector(),
    }
    roles_seen = {}
    for role, raw in roles.items():
        client = await LiveClient.open(live_server.ws_url, live.session_id, raw)
        snapshot = await client.event("snapshot")
        roles_seen[role] = snapshot["data"]["role"]
        assert snapshot["data"]["reason"] == "initial"
        await client.close()
    assert roles_seen == {
        "attendee": "attendee",
        "moderator": "moderator",
        "projector": "projector",
    }


async def test_the_festival_organiser_joins_as_moderator(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    client = await LiveClient.open(live_server.ws_url, live.session_id, live.organiser_token)
    assert (await client.event("snapshot"))["data"]["role"] == "moderator"
    await client.close()


async def test_no_token_or_an_unknown_one_is_refused_with_401(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    assert await _refused(live_server, live.session_id, "") == 401
    assert await _refused(live_server, live.session_id, "fa_forged") == 401


async def test_tokens_of_another_festival_or_role_are_refused_with_403(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    other = await live_session(backend.engine)
    checkin = await token(backend.engine, "staff", live.festival_id, role="checkin")
    other_scope = await token(
        backend.engine,
        "staff",
        live.festival_id,
        role="moderator",
        session_ids=[str(uuid.uuid4())],
    )
    foreign_projector = await token(
        backend.engine, "projector", live.festival_id, session_ids=[str(uuid.uuid4())]
    )
    for raw in (
        await other.attendee(),
        await other.moderator(),
        other.organiser_token,
        checkin,
        other_scope,
        foreign_projector,
    ):
        assert await _refused(live_server, live.session_id, raw) == 403


async def test_a_session_without_live_qa_refuses_everyone(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine, live_qa=False)
    assert await _refused(live_server, live.session_id, await live.attendee()) == 403
    assert await _refused(live_server, live.session_id, await live.moderator()) == 403


async def test_an_unknown_session_is_404_for_a_festival_member(
    live_server: LiveServer, backend: Backend
) -> None:
    live = await live_session(backend.engine)
    assert await _refused(live_server, uuid.uuid4(), await live.attendee()) == 404
