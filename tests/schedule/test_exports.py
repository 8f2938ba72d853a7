"""Feeds: the demo's exports validate, calendars carry what apps need, every feed revalidates."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from festival.models import Festival
from festival.settings import Settings
from schedule.exports.frab import schedule_json, schedule_xml
from schedule.exports.ical import calendar_ics
from schedule.models import Room, Session, Speaker, Track
from tests.conftest import Backend, count_queries
from tests.factories import festival as ff
from tests.factories import schedule as sf
from tests.factories.festival import auth
from tests.schedule.validators import assert_valid_json, assert_valid_xml, parse_ics_twice

DEMO = "/api/v1/festivals/innovation-festival-2020"
FEEDS = ["calendar.ics", "schedule.xml", "schedule.json", "programme.csv"]


async def test_demo_calendar_is_read_by_two_independent_parsers(
    client: httpx.AsyncClient, backend: Backend, settings: Settings
) -> None:
    await sf.demo(backend.engine, settings)
    response = await client.get(f"{DEMO}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar, vevents = parse_ics_twice(response.content)
    events = calendar.walk("VEVENT")
    assert len(events) == len(vevents) == 11
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Amsterdam"]
    keynote = next(e for e in events if str(e["SUMMARY"]).startswith("Opening keynote"))
    assert str(keynote["UID"]).endswith("@festival")
    assert keynote["SEQUENCE"] == 0
    assert str(keynote["STATUS"]) == "CONFIRMED"
    # Online, so its place is its live page (which gates the Main Stage's stream).
    session_id = str(keynote["UID"]).removesuffix("@festival")
    assert str(keynote["LOCATION"]) == f"http://testserver/live/{session_id}"
    assert keynote.decoded("DTSTART").isoformat() == "2020-10-08T09:00:00+02:00"
    assert keynote["CATEGORIES"].cats == ["Plenary"]
    assert "Speakers: Lucas de Vries, Amara Okello" in str(keynote["DESCRIPTION"])
    assert keynote.decoded("DTSTAMP") == keynote.decoded("LAST-MODIFIED")
    assert str(keynote["URL"]).startswith("http://testserver/f/innovation-festival-2020#session-")
    by_uid = {v.uid.value: v for v in vevents}
    assert by_uid[str(keynote["UID"])].dtstart.value == keynote.decoded("DTSTART")
    assert by_uid[str(keynote["UID"])].summary.value == str(keynote["SUMMARY"])


async def test_demo_frab_xml_and_json_validate_against_the_schemas(
    client: httpx.AsyncClient, backend: Backend, settings: Settings
) -> None:
    await sf.demo(backend.engine, settings)
    for slug in ("innovation-festival-2020", "innovation-impulse"):
        xml = await client.get(f"/api/v1/festivals/{slug}/schedule.xml")
        document = assert_valid_xml(xml.content)
        assert len(document.findall("day/room/event")) == {"innovation-festival-2020": 11}.get(
            slug, 8
        )
        data = assert_valid_json(
            (await client.get(f"/api/v1/festivals/{slug}/schedule.json")).content
        )
        conference = data["schedule"]["conference"]
        assert conference["acronym"] == slug.replace("-", "_")
        events = [e for d in conference["days"] for r in d["rooms"].values() for e in r]
        assert len(events) == len(document.findall("day/room/event"))
        person = events[0]["persons"][0]
        assert "id" not in person
        assert person["name"] == person["public_name"]


async def test_a_hyphenated_slug_still_exports_valid_frab(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await sf.organiser(backend.engine)
    made = await ff.festival(client, token, slug="a-b", publish=True)
    room = await sf.room(client, token, "a-b", name="Hall")
    await sf.session(
        client,
        token,
        "a-b",
        "2030-10-08T08:00:00Z",
        "2030-10-08T09:00:00Z",
        title="Only talk",
        room_id=room["id"],
    )
    data = assert_valid_json((await client.get(f"{sf.base('a-b')}/schedule.json")).content)
    assert data["schedule"]["conference"]["acronym"] == "a_b_"
    assert_valid_xml((await client.get(f"{sf.base('a-b')}/schedule.xml")).content)
    assert made["slug"] == "a-b"


@pytest.mark.parametrize("feed", FEEDS)
async def test_every_feed_revalidates_with_etag_and_last_modified(
    client: httpx.AsyncClient, backend: Backend, settings: Settings, feed: str
) -> None:
    token = await sf.demo(backend.engine, settings)
    first = await client.get(f"{DEMO}/{feed}")
    assert first.status_code == 200
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = await client.get(f"{DEMO}/{feed}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["cache-control"] == "public, no-cache"
    assert again.content == b""
    assert again.headers["etag"] == etag
    since = await client.get(f"{DEMO}/{feed}", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    sessions = (await client.get(f"{DEMO}/sessions?limit=1")).json()["items"]
    moved = await client.patch(
        f"{DEMO}/sessions/{sessions[0]['id']}", headers=auth(token), json={"title": "Renamed"}
    )
    assert moved.status_code == 200
    after = await client.get(f"{DEMO}/{feed}", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag
    assert b"Renamed" in after.content


async def test_calendar_filters_by_track_room_and_speaker(
    client: httpx.AsyncClient, backend: Backend, settings: Settings
) -> None:
    await sf.demo(backend.engine, settings)
    tracks = {t["name"]: t["id"] for t in (await client.get(f"{DEMO}/tracks")).json()["items"]}
    rooms = {r["name"]: r["id"] for r in (await client.get(f"{DEMO}/rooms")).json()["items"]}
    speakers = {s["name"]: s["id"] for s in (await client.get(f"{DEMO}/speakers")).json()["items"]}
    cases = {
        f"track={tracks['Food & Agriculture']}": 2,
        f"room={rooms['Workshop Room A']}": 2,
        f"speaker={speakers['Sofia Alvarez']}": 3,
    }
    for query, count in cases.items():
        calendar, vevents = parse_ics_twice(
            (await client.get(f"{DEMO}/calendar.ics?{query}")).content
        )
        assert len(calendar.walk("VEVENT")) == len(vevents) == count, query
    unknown = await client.get(f"{DEMO}/calendar.ics?track=00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404


async def test_cancelled_session_stays_in_the_calendar_marked_cancelled(
    client: httpx.AsyncClient, backend: Backend, settings: Settings
) -> None:
    token = await sf.demo(backend.engine, settings)
    sessions = (await client.get(f"{DEMO}/sessions?limit=1")).json()["items"]
    cancelled = await client.patch(
        f"{DEMO}/sessions/{sessions[0]['id']}", headers=auth(token), json={"status": "cancelled"}
    )
    assert cancelled.json()["status"] == "cancelled"
    calendar, vevents = parse_ics_twice((await client.get(f"{DEMO}/calendar.ics")).content)
    event = next(
        e for e in calendar.walk("VEVENT") if str(e["UID"]) == f"{sessions[0]['id']}@festival"
    )
    assert str(event["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 1
    assert len(vevents) == 11
    data = assert_valid_json((await client.get(f"{DEMO}/schedule.json")).content)
    guids = [
        e["guid"]
        for d in data["schedule"]["conference"]["days"]
        for r in d["rooms"].values()
        for e in r
    ]
    assert sessions[0]["id"] not in guids


async def test_session_across_the_autumn_dst_change_keeps_its_length_in_the_calendar(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await sf.organiser(backend.engine)
    made = await ff.festival(client, token, starts_on="2030-10-26", ends_on="2030-10-27")
    slug = made["slug"]
    # 01:30 summer time to 02:30 winter time: the hour 02:00-03:00 happens twice, so 2 hours.
    night = await sf.session(
        client,
        token,
        slug,
        "2030-10-27T01:30:00+02:00",
        "2030-10-27T02:30:00+01:00",
        title="Night owls",
    )
    assert night["ends_at"] == "2030-10-27T02:30:00+01:00"
    calendar, vevents = parse_ics_twice((await client.get(f"{sf.base(slug)}/calendar.ics")).content)
    event = calendar.walk("VEVENT")[0]
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(hours=2)
    assert vevents[0].dtend.value - vevents[0].dtstart.value == timedelta(hours=2)
    data = assert_valid_json((await client.get(f"{sf.base(slug)}/schedule.json")).content)
    event_json = data["schedule"]["conference"]["days"][1]["rooms"][""][0]
    assert event_json["duration"] == "02:00"
    assert_valid_xml((await client.get(f"{sf.base(slug)}/schedule.xml")).content)


async def test_unpublished_programme_feeds_are_not_found_for_the_public(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    _, token = await sf.organiser(backend.engine)
    made = await ff.festival(client, token, publish=False)
    await sf.session(
        client,
        token,
        made["slug"],
        "2030-10-08T08:00:00Z",
        "2030-10-08T09:00:00Z",
        title="Secret draft",
    )
    for feed in FEEDS:
        anonymous = await client.get(f"{sf.base(made['slug'])}/{feed}")
        assert anonymous.status_code == 404
        own = await client.get(f"{sf.base(made['slug'])}/{feed}", headers=auth(token))
        assert own.status_code == 200
        assert own.headers["cache-control"] == "private, no-cache"
        assert b"Secret draft" in own.content


@pytest.mark.parametrize("feed", [*FEEDS, "programme", "sessions"])
async def test_list_and_export_routes_use_a_fixed_number_of_queries(
    client: httpx.AsyncClient, backend: Backend, feed: str
) -> None:
    _, token = await sf.organiser(backend.engine)
    counts = []
    for size in (5, 60):
        made = await ff.festival(client, token)
        await sf.bulk_programme(backend.engine, made["id"], sessions=size, rooms=4, speakers=12)
        with count_queries(backend.engine) as counter:
            response = await client.get(f"{sf.base(made['slug'])}/{feed}?limit=200")
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1]


def _transient_programme() -> tuple[Festival, list[Session]]:
    """Unsaved festival and sessions: the exports are pure functions of loaded data."""
    now = datetime(2030, 9, 1, tzinfo=UTC)
    festival = Festival(
        id=uuid.uuid4(),
        slug="pure-fest",
        name="Pure",
        timezone="Europe/Amsterdam",
        starts_on=date(2030, 10, 8),
        ends_on=date(2030, 10, 9),
        mode="online",
        capacity=1,
        updated_at=now,
        published_at=now,
    )
    stage = Room(
        id=uuid.uuid4(),
        name="Stage",
        kind="virtual",
        position=0,
        stream_url="https://stream.example.org/stage?a=1,b=2",
    )
    track = Track(id=uuid.uuid4(), name="Food, Farming & <Data>", colour="#00aa00")
    ada = Speaker(id=uuid.uuid4(), name='Adà "Ada" Łovelace', external_id=None)
    title = 'Tags <b>&amp; "quotes"\x07, a very long title ' + "é" * 80
    session = Session(
        id=uuid.uuid4(),
        title=title,
        abstract="Line one\nline two; three",
        format="talk",
        starts_at=datetime(2030, 10, 8, 8, tzinfo=UTC),
        ends_at=datetime(2030, 10, 8, 9, tzinfo=UTC),
        status="scheduled",
        sequence=2,
        live_qa=False,
        language="en",
        created_at=now,
        updated_at=now,
        room_id=stage.id,
        track_id=track.id,
        external_id=None,
    )
    session.room, session.track, session.speakers = stage, track, [ada]
    return festival, [session]


def test_join_links_add_the_live_page_as_conference_and_in_the_description() -> None:
    festival, sessions = _transient_programme()
    plain = calendar_ics(festival, sessions, name="Pure", base_url="https://fest.example.org")
    joined = calendar_ics(
        festival, sessions, name="My agenda", base_url="https://fest.example.org", join_links=True
    )
    calendar, vevents = parse_ics_twice(joined)
    event = calendar.walk("VEVENT")[0]
    live = f"https://fest.example.org/live/{sessions[0].id}"
    assert str(event["CONFERENCE"]) == live
    assert f"Join: {live}" in str(event["DESCRIPTION"])
    assert str(event["LOCATION"]) == live
    # The virtual room's stream itself is in neither calendar (shared calendars travel).
    assert b"stream.example.org" not in plain + joined.replace(b"\r\n ", b"")
    assert str(event["SUMMARY"]) == sessions[0].title.replace("\x07", "")
    assert event["SEQUENCE"] == 2
    assert vevents[0].summary.value == str(event["SUMMARY"])
    assert b"CONFERENCE" not in plain
    assert all(len(line) <= 75 for line in joined.split(b"\r\n"))


def test_frab_exports_escape_markup_and_drop_characters_xml_forbids() -> None:
    festival, sessions = _transient_programme()
    args = (festival, sessions, [sessions[0].track], [sessions[0].room])
    document = assert_valid_xml(
        schedule_xml(*args, base_url="https://fest.example.org", version="1")
    )
    assert document.findtext("day/room/event/title") == sessions[0].title.replace("\x07", "")
    assert document.findtext("day/room/event/persons/person") == 'Adà "Ada" Łovelace'
    data = assert_valid_json(schedule_json(*args, base_url="https://fest.example.org", version="1"))
    event = data["schedule"]["conference"]["days"][0]["rooms"]["Stage"][0]
    assert event["track"] == "Food, Farming & <Data>"
    assert event["slug"].startswith("pure_fest-")


def test_a_track_has_one_slug_in_both_frab_exports_valid_for_both_schemas() -> None:
    festival, sessions = _transient_programme()
    names = ["Main", "2030 Agenda", "X", "Économie & Data", "Économie / Data"]
    tracks = [sessions[0].track, *(Track(id=uuid.uuid4(), name=n, colour=None) for n in names)]
    args = (festival, sessions, tracks, [sessions[0].room])
    document = assert_valid_xml(
        schedule_xml(*args, base_url="https://fest.example.org", version="1")
    )
    data = assert_valid_json(schedule_json(*args, base_url="https://fest.example.org", version="1"))
    in_xml = {t.get("name"): t.get("slug") for t in document.iterfind("conference/track")}
    in_json = {t["name"]: t["slug"] for t in data["schedule"]["conference"]["tracks"]}
    assert in_xml == in_json
    assert in_json == {
        "2030 Agenda": "track-2030-agenda",
        "Food, Farming & <Data>": "food-farming-data",
        "Main": "main",
        "X": "track-x",
        "Économie & Data": "economie-data",
        "Économie / Data": "economie-data-2",
    }


def test_our_schedule_json_gives_back_its_extras_in_the_list_and_the_older_map_shape() -> None:
    """Files exported before the lists (maps keyed by guid) still import whole."""
    from schedule.import_frab import parse_frab

    festival, sessions = _transient_programme()
    session, stage = sessions[0], sessions[0].room
    session.capacity, session.live_qa = 40, True
    session.stream_url = "https://stream.example.org/own"
    stage.position = 3
    body = schedule_json(
        festival,
        sessions,
        [session.track],
        [stage],
        base_url="https://fest.example.org",
        version="1",
        private=True,  # the organisers' copy: the one that carries stream URLs
    )
    document = json.loads(body)
    extras = document["schedule"]["conference"]["meta"]["festival"]
    assert extras == {
        "sessions": [
            {
                "guid": str(session.id),
                "format": "talk",
                "capacity": 40,
                "live_qa": True,
                "stream_url": "https://stream.example.org/own",
            }
        ],
        "rooms": [{"guid": str(stage.id), "kind": "virtual", "position": 3}],
    }
    older = copy.deepcopy(document)
    older["schedule"]["conference"]["meta"]["festival"] = {
        name: {item.pop("guid"): item for item in copy.deepcopy(items)}
        for name, items in extras.items()
    }
    for shape in (document, older):
        parsed = parse_frab(json.dumps(shape).encode(), ZoneInfo(festival.timezone))
        row = parsed.sessions[0]
        assert (row.format, row.capacity, row.live_qa, row.stream_url) == (
            "talk",
            40,
            True,
            "https://stream.example.org/own",
        )
        assert row.ends_at == session.ends_at
        assert (parsed.rooms["Stage"].kind, parsed.rooms["Stage"].position) == ("virtual", 3)


@pytest.mark.parametrize("tzid", ["Europe/Amsterdam", "America/Sao_Paulo", "Australia/Lord_Howe"])
def test_vtimezone_onsets_are_the_zones_real_transitions(tzid: str) -> None:
    """RFC 5545: an observance's DTSTART is the local onset in the offset it leaves."""
    from zoneinfo import ZoneInfo

    import icalendar

    from schedule.exports.ical import vtimezone

    body = "\r\n".join(["BEGIN:VCALENDAR", *vtimezone(tzid, 2017, 2018), "END:VCALENDAR"])
    component = icalendar.Calendar.from_ical(body).walk("VTIMEZONE")[0]
    zone = ZoneInfo(tzid)
    onsets = []
    for observance in component.subcomponents[1:]:  # the first marks where the range starts
        start = observance.decoded("DTSTART") - observance.decoded("TZOFFSETFROM")
        onset = start.replace(tzinfo=UTC)
        before, after = (onset - timedelta(seconds=1)).astimezone(zone), onset.astimezone(zone)
        assert before.utcoffset() == observance.decoded("TZOFFSETFROM")
        assert after.utcoffset() == observance.decoded("TZOFFSETTO")
        onsets.append(onset)
    assert len(onsets) >= 4
