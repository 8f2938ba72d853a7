"""Bidirectional overrides: a name cannot be made to read differently from what it is."""

from __future__ import annotations

import httpx
import pytest

from realtime.qa import clean_text
from tests.conftest import Backend
from tests.factories.festival import auth
from tests.factories.realtime import live_session
from tests.factories.tickets import open_festival, register

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "Ada \u202enalo" shows as "Ada olan"
ISOLATE = "\u2067"  # RIGHT-TO-LEFT ISOLATE


@pytest.mark.parametrize("control", [RLO, ISOLATE])
async def test_a_name_with_a_bidi_override_is_refused_with_the_field(
    client: httpx.AsyncClient, backend: Backend, control: str
) -> None:
    made, _ = await open_festival(client, backend.engine)
    refused = await register(client, made["slug"], name=f"Ada {control}ecalevol")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert "bidirectional control characters" in refused.text
    assert "name" in refused.text


async def test_right_to_left_names_with_plain_marks_are_welcome(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    made, _ = await open_festival(client, backend.engine)
    arabic = "\u0641\u0627\u0637\u0645\u0629\u200f \u0627\u0644\u0632\u0647\u0631\u0627\u0621"
    assert (await register(client, made["slug"], name=arabic)).status_code == 201


async def test_a_question_with_an_override_is_refused_over_rest_and_cleaned_on_the_socket(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """As with other control characters: REST inputs refuse them; a question typed into
    the live page's socket is cleaned rather than refused (realtime.qa.clean_text)."""
    live = await live_session(backend.engine)
    base = f"/api/v1/sessions/{live.session_id}/questions"
    text = f"Why {RLO}sdrawkcab?"
    asked = await client.post(base, json={"text": text}, headers=auth(await live.attendee()))
    assert asked.status_code == 422
    assert "bidirectional control characters" in asked.json()["detail"]
    assert clean_text(text) == "Why sdrawkcab?"
    assert clean_text(f"{ISOLATE}مرحبا⁩ ok") == ("مرحبا ok")
