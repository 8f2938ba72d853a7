"""Speakers invited to moderate their own sessions (issue 17)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from tests.conftest import Backend, LiveServer
from tests.factories.festival import auth
from tests.factories.tickets import letters_to, open_festival

MODERATE = re.compile(r"/moderate/([0-9a-f-]{36})\?token=(fs_[A-Za-z0-9_-]+)")


async def _post(client: httpx.AsyncClient, token: str, path: str, body: dict[str, Any]) -> Any:
    made = await client.post(path, json=body, headers=auth(token))
    assert made.status_code == 201, made.text
    return made.json()


async def _moderate(client: httpx.AsyncClient, session_id: str, token: str) -> httpx.Response:
    """Turn pre-moderation on: what only a moderator of the session may do."""
    return await client.patch(
        f"/api/v1/sessions/{session_id}/live", json={"pre_moderation": True}, headers=auth(token)
    )


def _talk(title: str, hour: int, speaker: str | None) -> dict[str, Any]:
    return {
        "title": title,
        "live_qa": True,
        "speaker_ids": [speaker] if speaker else [],
        "starts_at": f"2030-10-08T{hour:02d}:00:00+00:00",
        "ends_at": f"2030-10-08T{hour:02d}:50:00+00:00",
    }


async def test_a_speaker_gets_moderator_links_for_their_sessions_only(
    live_server: LiveServer, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        made, token = await open_festival(client, backend.engine)
        base = f"/api/v1/festivals/{made['slug']}"
        amina = await _post(
            client, token, f"{base}/speakers", {"name": "Amina", "email": "amina@example.org"}
        )
        quiet = await _post(client, token, f"{base}/speakers", {"name": "No Mail"})
        talks = [
            await _post(client, token, f"{base}/sessions", _talk(title, hour, amina["id"]))
            for title, hour in (("Keynote", 9), ("Panel", 11))
        ]
        other = await _post(client, token, f"{base}/sessions", _talk("Other", 9, None))

        invited = await client.post(f"{base}/speakers/{amina['id']}/invite", headers=auth(token))
        assert invited.status_code == 202, invited.text
        assert sorted(invited.json()["session_ids"]) == sorted(t["id"] for t in talks)
        (letter,) = await letters_to(backend.engine, "amina@example.org")
        links = MODERATE.findall(letter.body)
        assert sorted(sid for sid, _ in links) == sorted(t["id"] for t in talks)
        (raw,) = {secret for _, secret in links}
        for talk in talks:
            mine = await _moderate(client, talk["id"], raw)  # a moderator's right
            assert mine.status_code == 200, mine.text
        assert (await _moderate(client, other["id"], raw)).status_code == 403

        # Invited again: only the newest letter's links work.
        again = await client.post(f"{base}/speakers/{amina['id']}/invite", headers=auth(token))
        assert again.status_code == 202
        assert (await _moderate(client, talks[0]["id"], raw)).status_code == 401
        newest = MODERATE.findall((await letters_to(backend.engine, "amina@example.org"))[-1].body)
        assert {secret for _, secret in newest} != {raw}

        # Refusals: no e-mail, another festival's speaker, an attendee.
        no_mail = await client.post(f"{base}/speakers/{quiet['id']}/invite", headers=auth(token))
        assert (no_mail.status_code, no_mail.json()["errors"][0]["field"]) == (422, "email")
        elsewhere, other_token = await open_festival(client, backend.engine)
        foreign = await client.post(
            f"/api/v1/festivals/{elsewhere['slug']}/speakers/{amina['id']}/invite",
            headers=auth(other_token),
        )
        assert foreign.status_code == 404
        unknown = await client.post(f"{base}/speakers/{uuid.uuid4()}/invite", headers=auth(token))
        assert unknown.status_code == 404


async def test_an_invited_speaker_hears_when_their_session_moves(
    live_server: LiveServer, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        made, token = await open_festival(client, backend.engine)
        base = f"/api/v1/festivals/{made['slug']}"
        amina = await _post(
            client, token, f"{base}/speakers", {"name": "Amina", "email": "amina@example.org"}
        )
        talk = await _post(client, token, f"{base}/sessions", _talk("Keynote", 9, amina["id"]))
        assert (
            await client.post(f"{base}/speakers/{amina['id']}/invite", headers=auth(token))
        ).status_code == 202
        moved = await client.patch(
            f"{base}/sessions/{talk['id']}",
            json={"starts_at": "2030-10-08T13:00:00+00:00", "ends_at": "2030-10-08T14:00:00+00:00"},
            headers=auth(token),
        )
        assert moved.status_code == 200, moved.text
    kinds = [m.kind for m in await letters_to(backend.engine, "amina@example.org")]
    assert kinds == ["speaker.invited", "speaker.moved"]
    told = (await letters_to(backend.engine, "amina@example.org"))[-1]
    assert "13:00" in told.body or "15:00" in told.body  # the new time, in the festival's zone
