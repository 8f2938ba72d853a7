"""The frab exports as a real consumer reads them: the C3VOC's schedule library.

``c3voc-schedule-tools`` (import package ``voc``) is what the C3VOC uses to
merge several conferences' ``schedule.json`` into one programme and write its
``schedule.xml``. It turns JSON keys into XML element names and copies every
event key into ``<event>``, so our file must hold no object keyed by ids and no
event key that the XSD refuses. Imported inside the tests, as the validators
import lxml: the library's pins clash with ours, so it is installed on its own.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import httpx

from festival.settings import Settings
from tests.conftest import Backend
from tests.factories import schedule as sf
from tests.schedule.validators import assert_valid_json, assert_valid_xml

DEMO_EVENTS = {"innovation-festival-2020": 11, "innovation-impulse": 8}
XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")


async def _demo_documents(
    client: httpx.AsyncClient, backend: Backend, settings: Settings
) -> dict[str, dict[str, Any]]:
    """Both demo festivals' ``schedule.json``, checked against the frab JSON schema."""
    await sf.demo(backend.engine, settings)
    documents = {}
    for slug in DEMO_EVENTS:
        response = await client.get(f"/api/v1/festivals/{slug}/schedule.json")
        assert response.status_code == 200
        documents[slug] = assert_valid_json(response.content)
    return documents


def _events(document: dict[str, Any]) -> list[dict[str, Any]]:
    days = document["schedule"]["conference"]["days"]
    return [e for day in days for events in day["rooms"].values() for e in events]


def _keys_that_are_not_xml_names(value: Any, path: str = "schedule") -> list[str]:
    """Object keys anywhere below ``value`` that are no XML name.

    Keys of ``days[].rooms`` are left alone: frab keys it by room name, and the
    library writes those as ``<room name="...">``, not as element names.
    """
    found: list[str] = []
    if isinstance(value, dict):
        by_room_name = re.search(r"\.days\[\d+\]\.rooms$", path) is not None
        for key, item in value.items():
            if not by_room_name and not XML_NAME.match(key):
                found.append(f"{path}.{key}")
            found += _keys_that_are_not_xml_names(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _keys_that_are_not_xml_names(item, f"{path}[{i}]")
    return found


async def test_both_demo_schedules_merged_by_the_c3voc_library_validate_against_the_xsd(
    client: httpx.AsyncClient, backend: Backend, settings: Settings
) -> None:
    from voc import Schedule

    documents = await _demo_documents(client, backend, settings)
    guids = {e["guid"] for d in documents.values() for e in _events(d)}
    conferences = [d["schedule"]["conference"] for d in documents.values()]
    # One schedule from the first edition's first day to the last's last (five
    # years apart): the library adds another file's days to the days it has.
    merged = Schedule(
        version="merged",
        conference={
            "acronym": "innovation_festivals",
            "title": "Innovation festivals",
            "start": min(c["start"] for c in conferences),
            "end": max(c["end"] for c in conferences),
            "timeslot_duration": "00:05",
            "time_zone_name": "Europe/Amsterdam",
        },
    )
    for document in documents.values():
        assert merged.add_events_from(Schedule(json=copy.deepcopy(document))) is True

    tree = assert_valid_xml(merged.xml(method="bytes"))

    events = tree.findall("day/room/event")
    assert len(events) == sum(DEMO_EVENTS.values())
    assert {e.get("guid") for e in events} == guids
    keynote = next(e for e in events if e.findtext("title", "").startswith("Opening keynote"))
    assert keynote.findtext("room") == "Main Stage"
    assert keynote.findtext("date") == "2020-10-08T09:00:00+02:00"
    assert keynote.findtext("duration") == "00:45"
    assert [p.text for p in keynote.iterfind("persons/person")] == [
        "Lucas de Vries",
        "Amara Okello",
    ]


async def test_the_c3voc_library_rewrites_each_demo_schedule_as_xml(
    client: httpx.AsyncClient, backend: Backend, settings: Settings
) -> None:
    """One file alone: the library reads it and writes every event and track.

    Its ``<conference>`` also gets our ``description`` and ``meta``: frab's JSON
    schema has a place for them, the XSD none. Without those two the file is valid.
    """
    from lxml import etree
    from voc import Schedule

    documents = await _demo_documents(client, backend, settings)
    for slug, document in documents.items():
        written = Schedule(json=copy.deepcopy(document)).xml(method="bytes")
        tree = etree.fromstring(written)
        conference = tree.find("conference")
        assert conference is not None
        for extra in ("description", "meta"):
            element = conference.find(extra)
            assert element is not None
            conference.remove(element)
        assert_valid_xml(etree.tostring(tree))
        assert len(tree.findall("day/room/event")) == DEMO_EVENTS[slug]
        tracks = document["schedule"]["conference"]["tracks"]
        assert [t.get("slug") for t in conference.iterfind("track")] == [t["slug"] for t in tracks]


async def test_no_object_in_schedule_json_is_keyed_by_ids_and_extras_are_found_by_guid(
    client: httpx.AsyncClient, backend: Backend, settings: Settings
) -> None:
    documents = await _demo_documents(client, backend, settings)
    for document in documents.values():
        assert _keys_that_are_not_xml_names(document["schedule"]) == []
        conference = document["schedule"]["conference"]
        extras = conference["meta"]["festival"]
        assert sorted(s["guid"] for s in extras["sessions"]) == sorted(
            e["guid"] for e in _events(document)
        )
        assert [r["guid"] for r in extras["rooms"]] == [r["guid"] for r in conference["rooms"]]
        assert all("end" not in e for e in _events(document))

    first = documents["innovation-festival-2020"]
    by_guid = {
        s["guid"]: s for s in first["schedule"]["conference"]["meta"]["festival"]["sessions"]
    }
    by_title = {e["title"]: by_guid[e["guid"]] for e in _events(first)}
    keynote = next(v for k, v in by_title.items() if k.startswith("Opening keynote"))
    event = next(e for e in _events(first) if e["guid"] == keynote["guid"])
    # Its stream is the Main Stage's; readers get the live page that gates it.
    assert {k: v for k, v in keynote.items() if k != "guid"} == {
        "format": "keynote",
        "live_qa": True,
        "join_url": f"http://testserver/live/{event['url'].rsplit('#session-', 1)[1]}",
    }
    capacities = sorted(s["capacity"] for s in by_guid.values() if "capacity" in s)
    assert capacities == [25, 30, 120]
    rooms = first["schedule"]["conference"]["meta"]["festival"]["rooms"]
    assert [(r["kind"], r["position"]) for r in rooms] == [("virtual", i) for i in range(4)]
