"""Registration questions: the form, checked answers, the ticket page, the CSV and
the door (issue 19)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from tests.conftest import Backend, LiveServer
from tests.factories.festival import auth
from tests.factories.tickets import open_festival, running_now, staff_token


async def _form(client: httpx.AsyncClient, slug: str, token: str) -> dict[str, str]:
    base = f"/api/v1/festivals/{slug}/questions"
    diets, topics = ["none", "vegetarian", "vegan"], ["data", "farming", "health"]
    asked = [
        {"kind": "choice", "label": "Diet", "required": True, "choices": diets},
        {"kind": "choices", "label": "Interests", "choices": topics},
        {"kind": "yes_no", "label": "May we photograph you?", "required": True},
        {"kind": "text", "label": "Access needs", "help": "What to prepare", "at_door": True},
    ]
    ids = {}
    for body in asked:
        made = await client.post(base, json=body, headers=auth(token))
        assert made.status_code == 201, made.text
        ids[body["label"]] = made.json()["id"]
    return ids


async def _register(
    client: httpx.AsyncClient, slug: str, answers: dict[str, Any], n: int = 1
) -> httpx.Response:
    body = {"name": f"Ada {n}", "email": f"ada{n}@example.org", "answers": answers}
    return await client.post(f"/api/v1/festivals/{slug}/registrations", json=body)


async def test_answers_are_checked_before_anything_is_written_and_name_the_question(
    live_server: LiveServer, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        made, token = await open_festival(client, backend.engine)
        slug = made["slug"]
        ids = await _form(client, slug, token)
        public = await client.get(f"/api/v1/festivals/{slug}/questions")
        assert [q["label"] for q in public.json()] == list(ids)
        diet, topics, photo = ids["Diet"], ids["Interests"], ids["May we photograph you?"]
        stranger = "7c4d0c4e-2b6a-4c1e-9a53-3a1f1b8d7e21"
        good = {diet: "vegan", photo: False}
        wrong = {
            "a required one missing": ({diet: "vegan"}, photo),
            "outside the choices": (good | {diet: "meat"}, diet),
            "one choice too many": (good | {topics: ["data", "golf"]}, topics),
            "not yes or no": (good | {photo: "maybe"}, photo),
            "an unknown question": (good | {stranger: "x"}, stranger),
        }
        for why, (answers, culprit) in wrong.items():
            refused = await _register(client, slug, answers)
            assert refused.status_code == 422, (why, refused.text)
            assert refused.json()["errors"][0]["field"] == f"answers.{culprit}", why
        listed = await client.get(f"/api/v1/festivals/{slug}/registrations", headers=auth(token))
        assert listed.json()["items"] == []  # nothing written by any of them


async def test_answers_show_on_the_ticket_the_csv_and_the_door_and_outlive_a_changed_form(
    live_server: LiveServer, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        made, token = await open_festival(client, backend.engine)
        slug = made["slug"]
        ids = await _form(client, slug, token)
        answers = {
            ids["Diet"]: "vegan",
            ids["Interests"]: ["health", "data"],
            ids["May we photograph you?"]: False,
            ids["Access needs"]: "Step-free entrance",
        }
        reply = await _register(client, slug, answers)
        assert reply.status_code == 201, reply.text
        ada = reply.json()
        me = (await client.get("/api/v1/me", headers=auth(ada["attendee_token"]))).json()
        assert [(a["label"], a["value"]) for a in me["answers"]] == [
            ("Diet", "vegan"),
            ("Interests", ["data", "health"]),  # in the form's order
            ("May we photograph you?", False),
            ("Access needs", "Step-free entrance"),
        ]
        sheet = await client.get(f"/api/v1/festivals/{slug}/attendees.csv", headers=auth(token))
        rows = list(csv.DictReader(io.StringIO(sheet.text)))
        assert (rows[0]["Diet"], rows[0]["Interests"], rows[0]["May we photograph you?"]) == (
            "vegan", "data; health", "no"
        )  # fmt: skip

        door = await staff_token(client, token, slug)
        scanned = await client.post(
            f"/api/v1/festivals/{slug}/checkins",
            json={"qr": ada["ticket"]["qr"]},
            headers=auth(door),
        )
        assert scanned.status_code == 201, scanned.text
        assert scanned.json()["attendee"]["notes"] == [
            {"question": "Access needs", "answer": "Step-free entrance"}
        ]

        # The organiser rewords one question and takes another off the form.
        base = f"/api/v1/festivals/{slug}/questions"
        await client.patch(f"{base}/{ids['Diet']}", json={"label": "Food"}, headers=auth(token))
        gone = await client.delete(f"{base}/{ids['Interests']}", headers=auth(token))
        assert gone.status_code == 204
        me = (await client.get("/api/v1/me", headers=auth(ada["attendee_token"]))).json()
        assert ("Diet", "vegan") in [(a["label"], a["value"]) for a in me["answers"]]
        assert ("Interests", ["data", "health"]) in [
            (a["label"], a["value"]) for a in me["answers"]
        ]

        # Until the festival starts, the attendee may change them (all of them at once).
        changed = await client.patch(
            "/api/v1/me",
            json={"answers": {ids["Diet"]: "none", ids["May we photograph you?"]: True}},
            headers=auth(ada["attendee_token"]),
        )
        assert changed.status_code == 200, changed.text
        assert [(a["label"], a["value"]) for a in changed.json()["answers"]] == [
            ("Food", "none"),
            ("May we photograph you?", True),
        ]


async def test_answers_close_when_the_festival_starts(
    live_server: LiveServer, backend: Backend
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        made, token = await open_festival(client, backend.engine, **running_now())
        slug = made["slug"]
        ids = await _form(client, slug, token)
        reply = await _register(
            client, slug, {ids["Diet"]: "vegan", ids["May we photograph you?"]: True}
        )
        assert reply.status_code == 201, reply.text
        late = await client.patch(
            "/api/v1/me",
            json={"answers": {ids["Diet"]: "none", ids["May we photograph you?"]: True}},
            headers=auth(reply.json()["attendee_token"]),
        )
        assert (late.status_code, late.json()["errors"][0]["field"]) == (409, "answers")
