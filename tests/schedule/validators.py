"""Independent validators of the exports: two iCal parsers, the frab XSD and JSON schema."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "frab-schemas"


@cache
def _xsd() -> Any:
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(SCHEMAS / "schedule.xml.xsd")))


@cache
def _json_validator() -> Any:
    import jsonschema

    schema = json.loads((SCHEMAS / "schema.json").read_text())
    return jsonschema.Draft6Validator(schema, format_checker=jsonschema.FormatChecker())


def assert_valid_xml(body: bytes) -> Any:
    from lxml import etree

    document = etree.fromstring(body)
    schema = _xsd()
    assert schema.validate(document), schema.error_log
    return document


def assert_valid_json(body: bytes) -> Any:
    document = json.loads(body)
    errors = [f"{list(e.path)}: {e.message}" for e in _json_validator().iter_errors(document)]
    assert errors == []
    return document


def parse_ics_twice(body: bytes) -> tuple[Any, list[Any]]:
    """The calendar parsed by icalendar and its events parsed by vobject."""
    import icalendar
    import vobject

    calendar = icalendar.Calendar.from_ical(body)
    # vobject keeps every VTIMEZONE it has read in a process-wide map by TZID; a fresh
    # map per calendar reads each one as a calendar app would, on its own.
    vars(vobject.icalendar)["__tzidMap"].clear()
    parsed = vobject.readOne(body.decode())
    events = list(parsed.contents.get("vevent", []))
    return calendar, events
