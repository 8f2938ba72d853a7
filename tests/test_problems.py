"""Bodies that are not what a JSON endpoint takes get problems that say what is wrong."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Backend
from tests.factories.festival import auth, festival, festival_body, organiser

PROBLEM = "application/problem+json"
FESTIVALS = "/api/v1/festivals"


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def test_a_text_body_on_a_json_endpoint_is_415_naming_the_type_expected(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    body = festival_body()
    text = await client.post(
        FESTIVALS,
        content=httpx.Response(200, json=body).content,
        headers={**auth(token), "Content-Type": "text/plain"},
    )
    problem = problem_of(text, 415)
    assert problem["title"] == "Unsupported media type"
    assert problem["code"] == "unsupported_media_type"
    assert problem["expected_content_type"] == "application/json"
    assert "application/json" in problem["detail"]
    assert "'text/plain'" in problem["detail"]
    assert text.headers["accept-post"] == "application/json"
    mine = await client.get(f"{FESTIVALS}/{body['slug']}", headers=auth(token))
    assert mine.status_code == 404  # nothing was made


async def test_a_body_without_content_type_is_415_and_json_types_are_taken(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    made = await festival(client, token, publish=False)
    url = f"{FESTIVALS}/{made['slug']}"
    bare = await client.patch(url, content=b'{"name": "Renamed"}', headers=auth(token))
    assert problem_of(bare, 415)["detail"].endswith("it was sent without one")
    assert bare.headers["accept-patch"] == "application/json"
    form = await client.patch(url, data={"name": "Renamed"}, headers=auth(token))
    assert problem_of(form, 415)["expected_content_type"] == "application/json"
    assert (await client.get(url, headers=auth(token))).json()["name"] == made["name"]
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        ok = await client.patch(
            url,
            content=b'{"name": "Renamed"}',
            headers={**auth(token), "Content-Type": content_type},
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["name"] == "Renamed"


async def test_the_media_type_is_checked_before_the_token(client: httpx.AsyncClient) -> None:
    """A client sending the wrong type learns that first, whoever it is."""
    response = await client.post(FESTIVALS, content=b"{}", headers={"Content-Type": "text/plain"})
    assert problem_of(response, 415)["code"] == "unsupported_media_type"


async def test_every_json_body_operation_answers_415_to_another_type(
    client: httpx.AsyncClient,
) -> None:
    """Each operation whose spec takes a JSON body documents 415 and answers it."""
    spec = (await client.get("/openapi.json")).json()
    checked = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if list(content) != ["application/json"]:
                continue  # no body, or one that also takes other types (the CSV import)
            assert "415" in operation["responses"], f"{method} {path}"
            url = re.sub(r"\{\w+\}", str(uuid.uuid4()), path.replace("{slug}", "no-such-slug"))
            response = await client.request(
                method.upper(), url, content=b"{}", headers={"Content-Type": "text/plain"}
            )
            assert response.status_code == 415, f"{method} {path}: {response.text}"
            checked.append(f"{method} {path}")
    assert "post /api/v1/festivals/{slug}/registrations" in checked
    assert "post /api/v1/festivals/{slug}/checkins" in checked
    assert len(checked) >= 20


@pytest.mark.parametrize("lane", ["registrations", "checkins"])
async def test_the_fast_lanes_refuse_other_types_as_the_routes_do(
    client: httpx.AsyncClient, backend: Backend, lane: str
) -> None:
    _, token = await organiser(backend.engine)
    made = await festival(client, token)
    url = f"{FESTIVALS}/{made['slug']}/{lane}"
    body = b'{"name": "Ada", "email": "ada@example.org", "qr": "x"}'
    replies = []
    for headers in (
        {"Content-Type": "text/plain"},
        {"Content-Type": "text/plain", "Idempotency-Key": "k-1"},  # always the route
        {},
    ):
        response = await client.post(url, content=body, headers=headers)
        replies.append(problem_of(response, 415))
    assert replies[0] == replies[1]
    assert replies[2]["expected_content_type"] == "application/json"
    registrations = await client.get(
        f"{FESTIVALS}/{made['slug']}/registrations", headers=auth(token)
    )
    assert registrations.json()["items"] == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"slug": "a" "name": "b"}', "Expecting ',' delimiter at line 1, column 14"),
        (b'{\n  "slug": "a",\n  "name": \n}', "Expecting value at line 4, column 1"),
        (  # columns count characters, not bytes
            b'{"slug": "\xc3\xa9t\xc3\xa9" "name": 1}',
            "Expecting ',' delimiter at line 1, column 16",
        ),
    ],
)
async def test_malformed_json_says_where_on_which_line_and_column(
    client: httpx.AsyncClient, backend: Backend, raw: bytes, message: str
) -> None:
    _, token = await organiser(backend.engine)
    response = await client.post(
        FESTIVALS, content=raw, headers={**auth(token), "Content-Type": "application/json"}
    )
    problem = problem_of(response, 422)
    assert problem["errors"] == [{"field": "body", "message": message}]
    assert problem["detail"] == f"body: {message}"


async def test_malformed_json_in_a_fast_lane_is_the_routes_answer(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    made = await festival(client, token)
    url = f"{FESTIVALS}/{made['slug']}/registrations"
    raw = b'{"name": "Ada",, "email": "ada@example.org"}'
    lane = await client.post(url, content=raw, headers={"Content-Type": "application/json"})
    route = await client.post(
        url, content=raw, headers={"Content-Type": "application/json", "Idempotency-Key": "k"}
    )
    assert problem_of(lane, 422) == problem_of(route, 422)
    expected = "Expecting property name enclosed in double quotes at line 1, column 16"
    assert lane.json()["errors"] == [{"field": "body", "message": expected}]


async def test_validator_messages_come_without_pydantics_value_error_prefix(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await organiser(backend.engine)
    body = festival_body(timezone="Mars/Olympus", starts_on="2030-10-09", ends_on="2030-10-08")
    response = await client.post(FESTIVALS, json=body, headers=auth(token))
    problem = problem_of(response, 422)
    assert problem["errors"] == [
        {"field": "timezone", "message": "unknown IANA time zone 'Mars/Olympus'"},
        {"field": "ends_on", "message": "ends_on is before starts_on"},
    ]
    assert "Value error" not in problem["detail"]


@pytest.mark.parametrize("path", [FESTIVALS, "{festival}/registrations"])
async def test_a_body_that_is_not_utf8_is_an_invalid_input_problem(
    client: httpx.AsyncClient, backend: Backend, path: str
) -> None:
    _, token = await organiser(backend.engine)
    made = await festival(client, token)
    url = path.format(festival=f"{FESTIVALS}/{made['slug']}")
    raw = b'{"name": "Ad\xff", "email": "ada@example.org"}'
    response = await client.post(
        url, content=raw, headers={**auth(token), "Content-Type": "application/json"}
    )
    problem = problem_of(response, 422)
    assert problem["title"] == "Invalid input"
    assert problem["code"] == "validation_failed"
    message = "Not valid UTF-8: invalid start byte at byte 12"
    assert problem["errors"] == [{"field": "body", "message": message}]
    assert problem["detail"] == f"body: {message}"


async def test_a_body_json_cannot_read_at_all_is_a_bad_request_with_a_real_title(
    client: httpx.AsyncClient,
) -> None:
    """Nesting deeper than the parser goes: FastAPI's bare 400, titled by its status."""
    response = await client.post(
        FESTIVALS, content=b"[" * 100_000, headers={"Content-Type": "application/json"}
    )
    problem = problem_of(response, 400)
    assert problem["title"] == "Bad request"
    assert problem["detail"] == "There was an error parsing the body"
