"""Imports: CSV and frab JSON, all or nothing, idempotent, errors that say where."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from api.cli.commands import app as cli
from festival.settings import Settings
from tests.conftest import Backend
from tests.factories import festival as ff
from tests.factories import schedule as sf
from tests.factories.festival import auth

DEMO = "/api/v1/festivals/innovation-festival-2020"
HEADER = "id,title,format,track,room,starts_at,ends_at,speakers,capacity,live_qa\r\n"
CSV_ROWS = (
    HEADER
    + "k1,Opening,keynote,Plenary,Hall,2030-10-08T09:00+02:00,2030-10-08T10:00+02:00,Ada;Bo,,1\r\n"
    + "k2,Workshop,workshop,Food,Room B,2030-10-08 10:30,2030-10-08 12:00,Bo,25,no\r\n"
)


async def _empty_festival(
    client: httpx.AsyncClient, backend: Backend, **fest: Any
) -> tuple[str, str]:
    _, token = await sf.organiser(backend.engine)
    made = await ff.festival(client, token, **fest)
    return token, made["slug"]


async def _import(
    client: httpx.AsyncClient, token: str, slug: str, body: bytes, media: str
) -> httpx.Response:
    return await client.post(
        f"{sf.base(slug)}/programme/import",
        content=body,
        headers={**auth(token), "Content-Type": media},
    )


def _programme_view(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What a reader sees of a programme, without ids."""
    return [
        (
            i["title"],
            i["abstract"],
            i["format"],
            i["starts_at"],
            i["ends_at"],
            i["capacity"],
            i["live_qa"],
            i["language"],
            i["stream_url"],
            i["status"],
            i["track"] and (i["track"]["name"], i["track"]["colour"]),
            i["room"] and (i["room"]["name"], i["room"]["kind"], i["room"]["stream_url"]),
            [(s["name"], s["organisation"]) for s in i["speakers"]],
        )
        for i in items
    ]


async def _view(client: httpx.AsyncClient, slug: str, token: str) -> list[tuple[Any, ...]]:
    page = await client.get(f"{sf.base(slug)}/programme?limit=200", headers=auth(token))
    return _programme_view(page.json()["items"])


async def test_demo_schedule_json_imported_into_an_empty_festival_reproduces_the_programme(
    client: httpx.AsyncClient, backend: Backend, settings: Settings
) -> None:
    demo_owner = await sf.demo(backend.engine, settings)
    # The organisers' copy, stream URLs and all (readers get join_url instead).
    exported = (await client.get(f"{DEMO}/schedule.json", headers=auth(demo_owner))).content
    token, slug = await _empty_festival(
        client, backend, starts_on="2020-10-08", ends_on="2020-10-09"
    )
    first = await _import(client, token, slug, exported, "application/json")
    assert first.status_code == 200, first.text
    assert first.json()["created"] == {"sessions": 11, "speakers": 8, "rooms": 4, "tracks": 6}
    assert await _view(client, slug, token) == await _view(
        client, "innovation-festival-2020", demo_owner
    )
    rooms = (await client.get(f"{sf.base(slug)}/rooms", headers=auth(token))).json()["items"]
    assert {r["name"]: r["capacity"] for r in rooms}["Workshop Room A"] == 40
    etag = (await client.get(f"{sf.base(slug)}/schedule.json", headers=auth(token))).headers["etag"]
    second = await _import(client, token, slug, exported, "application/json")
    assert second.json()["created"] == {"sessions": 0, "speakers": 0, "rooms": 0, "tracks": 0}
    assert second.json()["updated"] == {"sessions": 0, "speakers": 0, "rooms": 0, "tracks": 0}
    assert second.json()["unchanged"]["sessions"] == 11
    again = await client.get(
        f"{sf.base(slug)}/schedule.json", headers={**auth(token), "If-None-Match": etag}
    )
    assert again.status_code == 304


async def test_csv_import_creates_the_programme_and_reimport_changes_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _empty_festival(client, backend)
    first = await _import(client, token, slug, CSV_ROWS.encode(), "text/csv")
    assert first.status_code == 200, first.text
    assert first.json()["created"] == {"sessions": 2, "speakers": 2, "rooms": 2, "tracks": 2}
    items = (await client.get(f"{sf.base(slug)}/programme")).json()["items"]
    assert [(i["title"], i["starts_at"], [s["name"] for s in i["speakers"]]) for i in items] == [
        ("Opening", "2030-10-08T09:00:00+02:00", ["Ada", "Bo"]),
        ("Workshop", "2030-10-08T10:30:00+02:00", ["Bo"]),
    ]
    assert items[1]["capacity"] == 25
    assert items[0]["live_qa"] is True
    second = await _import(client, token, slug, CSV_ROWS.encode(), "text/csv")
    assert second.json()["unchanged"] == {"sessions": 2, "speakers": 2, "rooms": 2, "tracks": 2}
    retried = await client.post(
        f"{sf.base(slug)}/programme/import",
        content=CSV_ROWS.encode(),
        headers={**auth(token), "Content-Type": "text/csv", "Idempotency-Key": "k"},
    )
    replayed = await client.post(
        f"{sf.base(slug)}/programme/import",
        content=CSV_ROWS.encode(),
        headers={**auth(token), "Content-Type": "text/csv", "Idempotency-Key": "k"},
    )
    assert replayed.headers["idempotent-replay"] == "true"
    assert replayed.json() == retried.json()
    changes = (await client.get(f"{sf.base(slug)}/changes")).json()["items"]
    assert [c["kind"] for c in changes] == ["added", "added"]


async def test_a_csv_with_only_the_required_columns_imports_with_the_defaults(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """``format`` and the other optional columns may be left out: a new session takes
    their defaults (it was a NOT NULL failure reported as "conflicts with stored data")."""
    token, slug = await _empty_festival(client, backend)
    rows = "title,starts_at,ends_at\r\nBare,2030-10-08T16:00:00+02:00,2030-10-08T17:00:00+02:00\r\n"
    made = await _import(client, token, slug, rows.encode(), "text/csv")
    assert made.status_code == 200, made.text
    [item] = (await client.get(f"{sf.base(slug)}/programme")).json()["items"]
    assert (item["title"], item["format"], item["live_qa"]) == ("Bare", "talk", False)


async def test_our_own_csv_export_reimports_without_changes_and_keeps_formula_text(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _empty_festival(client, backend)
    await sf.session(
        client,
        token,
        slug,
        "2030-10-08T08:00:00Z",
        "2030-10-08T09:00:00Z",
        title="=HYPERLINK(1)",
        abstract='Line one\nline two, with "quotes"',
    )
    exported = (await client.get(f"{sf.base(slug)}/programme.csv")).content
    rows = list(csv.DictReader(io.StringIO(exported.decode("utf-8-sig"))))
    assert rows[0]["title"] == "'=HYPERLINK(1)"
    result = await _import(client, token, slug, exported, "text/csv")
    assert result.json()["unchanged"]["sessions"] == 1
    assert result.json()["updated"]["sessions"] == 0
    items = (await client.get(f"{sf.base(slug)}/sessions")).json()["items"]
    assert items[0]["title"] == "=HYPERLINK(1)"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("title,starts_at\r\nA,2030-10-08T09:00:00+02:00\r\n", "row 1: ends_at"),
        (
            "title,starts_at,ends_at,colour\r\nA,2030-10-08T09:00+02:00,2030-10-08T10:00+02:00,red\r\n",
            "row 1: colour",
        ),
        (
            HEADER
            + "k1,A,talk,,,2030-10-08T09:00:00+02:00,2030-10-08T10:00:00+02:00,,,\r\n"
            + "k2,B,talk,,,8 October,2030-10-08T10:00:00+02:00,,,\r\n",
            "row 3: starts_at",
        ),
        (
            HEADER + "k1,A,concert,,,2030-10-08T09:00:00+02:00,2030-10-08T10:00:00+02:00,,,\r\n",
            "row 2: format",
        ),
        (
            HEADER + "k1,A,talk,,,2030-10-08T09:00:00+02:00,2030-10-08T10:00:00+02:00,,-3,\r\n",
            "row 2: capacity",
        ),
        (
            HEADER
            + "k1,A,talk,,Hall,2030-10-08T09:00:00+02:00,2030-10-08T10:00:00+02:00,,,\r\n"
            + "k2,B,talk,,Hall,2030-10-08T09:30:00+02:00,2030-10-08T10:30:00+02:00,,,\r\n",
            "row 3: room_id",
        ),
        (
            HEADER + "k1,A,talk,,,2030-12-08T09:00:00+01:00,2030-12-08T10:00:00+01:00,,,\r\n",
            "row 2: starts_at",
        ),
        (
            HEADER
            + "k1,A,talk,,,2030-10-08T09:00:00+02:00,2030-10-08T10:00:00+02:00,,,\r\n"
            + "k1,B,talk,,,2030-10-08T11:00:00+02:00,2030-10-08T12:00:00+02:00,,,\r\n",
            "row 3: id",
        ),
    ],
)
async def test_bad_csv_is_refused_naming_row_and_field_and_writes_nothing(
    client: httpx.AsyncClient, backend: Backend, body: str, field: str
) -> None:
    token, slug = await _empty_festival(client, backend)
    response = await _import(client, token, slug, body.encode(), "text/csv")
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field
    for path in ("sessions", "rooms", "speakers", "tracks"):
        assert (await client.get(f"{sf.base(slug)}/{path}")).json()["items"] == [], path


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json at all {", "file"),
        (b'{"hello": "world"}', "schedule.conference.days"),
        (
            b'{"schedule": {"conference": {"days": [{"rooms": {"Hall": [{"title": "x"}]}}]}}}',
            "days[0].rooms.Hall[0]: guid",
        ),
        (
            b'{"schedule": {"conference": {"days": [{"rooms": {"Hall": [{"guid": "g1", '
            b'"title": "x", "date": "2030-10-08T09:00:00+02:00", "duration": "1 hour"}]}}]}}}',
            "event g1: duration",
        ),
    ],
)
async def test_a_file_that_is_not_frab_is_refused_naming_where(
    client: httpx.AsyncClient, backend: Backend, body: bytes, field: str
) -> None:
    token, slug = await _empty_festival(client, backend)
    response = await _import(client, token, slug, body, "application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
    assert (await client.get(f"{sf.base(slug)}/sessions")).json()["items"] == []


async def test_naive_csv_times_in_the_spring_dst_gap_are_refused(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    token, slug = await _empty_festival(
        client, backend, starts_on="2030-03-30", ends_on="2030-03-31"
    )
    body = HEADER + "k1,A,talk,,,2030-03-31 02:30,2030-03-31 04:00,,,\r\n"
    response = await _import(client, token, slug, body.encode(), "text/csv")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "row 2: starts_at"
    assert "daylight saving gap" in response.json()["errors"][0]["message"]


async def test_import_needs_the_festivals_organiser(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, slug = await _empty_festival(client, backend)
    _, stranger = await sf.organiser(backend.engine)
    response = await _import(client, stranger, slug, CSV_ROWS.encode(), "text/csv")
    assert response.status_code == 404
    anonymous = await client.post(f"{sf.base(slug)}/programme/import", content=CSV_ROWS.encode())
    assert anonymous.status_code == 401


async def test_cli_import_reports_a_summary_and_changes_nothing_the_second_time(
    backend: Backend, tmp_path: Any, cli_festival: str
) -> None:
    path = tmp_path / "programme.csv"
    path.write_text(CSV_ROWS)
    env = {
        "FESTIVAL_DATABASE_URL": backend.url,
        "FESTIVAL_SECRET_KEY": "test-secret-key-cli-not-for-production",
    }
    runner = CliRunner()

    async def festival_import(csv: Any) -> Result:
        # On a thread, as a second process would run it: this loop keeps serving the
        # app's own background work (reminders, holds), which must finish its
        # transactions for the CLI's to begin.
        args = ["import", str(csv), "--festival", cli_festival]
        return await asyncio.to_thread(runner.invoke, cli, args, env=env)

    first = await festival_import(path)
    assert first.exit_code == 0, first.output
    assert '"created":{"sessions":2' in first.stdout
    second = await festival_import(path)
    assert '"unchanged":{"sessions":2' in second.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("title,starts_at\r\nA,2030-10-08\r\n")
    refused = await festival_import(bad)
    assert refused.exit_code == 1
    assert "row 1: ends_at: required column is missing" in refused.stderr


@pytest.fixture
async def cli_festival(client: httpx.AsyncClient, backend: Backend) -> str:
    _, slug = await _empty_festival(client, backend)
    return slug


PRETALX_LIKE = {
    "$schema": "https://c3voc.de/schedule/schema.json",
    "schedule": {
        "version": "0.3",
        "conference": {
            "acronym": "democon",
            "title": "DemoCon",
            "rooms": [{"name": "Hall 1", "guid": "7c1ec0d8-7a1b-5c7e-9a38-0e4f44b6c1aa"}],
            "days": [
                {
                    "index": 1,
                    "date": "2030-10-08",
                    "rooms": {
                        "Hall 1": [
                            {
                                "guid": "0b4e5b1a-3c55-5b3a-a1f4-9f4b5c0e7d11",
                                "id": 12,
                                "date": "2030-10-08T10:00:00+02:00",
                                "start": "10:00",
                                "duration": "00:45",
                                "room": "Hall 1",
                                "title": "Hands-on mapping",
                                "type": "Hands-on",
                                "track": None,
                                "language": "en",
                                "abstract": "Bring a laptop.",
                                "persons": [
                                    {"code": "ABC123", "name": "Rosa P.", "biography": None}
                                ],
                            }
                        ]
                    },
                }
            ],
        },
    },
}


async def test_another_tools_frab_json_is_imported_by_guid_and_persons_by_code(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    import json

    token, slug = await _empty_festival(client, backend)
    body = json.dumps(PRETALX_LIKE).encode()
    first = await _import(client, token, slug, body, "application/json")
    assert first.status_code == 200, first.text
    items = (await client.get(f"{sf.base(slug)}/programme")).json()["items"]
    assert [(i["title"], i["format"], i["starts_at"], i["ends_at"]) for i in items] == [
        ("Hands-on mapping", "workshop", "2030-10-08T10:00:00+02:00", "2030-10-08T10:45:00+02:00")
    ]
    assert items[0]["speakers"][0]["name"] == "Rosa P."
    assert items[0]["track"] is None
    second = await _import(client, token, slug, body, "application/json")
    assert second.json()["unchanged"] == {"sessions": 1, "speakers": 1, "rooms": 1, "tracks": 0}
