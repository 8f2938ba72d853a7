"""Reading a frab / C3VOC ``schedule.json`` (ours or another tool's) into import rows.

Events are found under ``schedule.conference.days[].rooms{name: [event]}``.
An event needs a ``guid`` (or an ``id``), a ``title``, a ``date`` (ISO 8601;
without an offset it is read in the festival's zone) and an ``end`` or a
``duration`` (``HH:MM``). Rooms take their kind, stream URL and capacity from
``conference.rooms``; persons are matched by ``guid`` (else ``id``/``code``).
What frab has no field for comes back from ``conference.meta.festival`` when
the file is one of our own exports: its ``sessions`` and ``rooms`` are lists of
objects naming their event or room by ``guid``; the maps keyed by guid that
exports made before that shape are still read.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from schedule.import_formats import (
    DURATION,
    FRAB_TYPES,
    Parsed,
    Problems,
    RoomRow,
    SessionRow,
    SpeakerRow,
    count_of,
    fail,
    flag_of,
    language_of,
    parse_time,
    text_of,
    url_of,
)
from schedule.models import SESSION_FORMATS


def parse_frab(data: bytes, zone: ZoneInfo) -> Parsed:
    problems = Problems()
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.add("", "file", f"not JSON: {exc}")
        return fail(problems)
    conference = _dig(document, "schedule", "conference")
    days = conference.get("days") if isinstance(conference, dict) else None
    if not isinstance(days, list):
        problems.add("", "schedule.conference.days", "not a frab schedule.json (no list of days)")
        return fail(problems)
    assert isinstance(conference, dict)
    meta = _dig(conference, "meta", "festival")
    if not isinstance(meta, dict):
        meta = {}
    extras = {name: _by_guid(meta.get(name)) for name in ("sessions", "rooms")}
    parsed = Parsed("frab", [], _rooms(conference, extras["rooms"], problems), _colours(conference))
    seen: set[str] = set()
    for d, day in enumerate(days):
        rooms = day.get("rooms") if isinstance(day, dict) else None
        if not isinstance(rooms, dict):
            problems.add(f"days[{d}]", "rooms", "must be an object of room name to events")
            continue
        for room_name, events in rooms.items():
            if not isinstance(events, list):
                problems.add(f"days[{d}].rooms.{room_name}", "events", "must be a list")
                continue
            for e, event in enumerate(events):
                where = f"days[{d}].rooms.{room_name}[{e}]"
                row = _event(where, event, room_name, zone, extras["sessions"], problems)
                if row is None:
                    continue
                if row.key in seen:
                    problems.add(row.where, "guid", "appears twice in the file")
                    continue
                seen.add(row.key or "")
                parsed.sessions.append(row)
    if problems.errors:
        return fail(problems)
    return parsed


def _dig(value: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def _by_guid(value: Any) -> dict[str, dict[str, Any]]:
    """``[{"guid": g, ...}]`` (or an older export's ``{g: {...}}``) by guid."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items() if isinstance(v, dict)}
    if isinstance(value, list):
        return {str(v["guid"]): v for v in value if isinstance(v, dict) and v.get("guid")}
    return {}


def _rooms(
    conference: dict[str, Any], room_meta: dict[str, dict[str, Any]], problems: Problems
) -> dict[str, RoomRow]:
    found: dict[str, RoomRow] = {}
    for i, room in enumerate(conference.get("rooms") or []):
        if not isinstance(room, dict) or not isinstance(room.get("name"), str):
            problems.add(f"conference.rooms[{i}]", "name", "is required")
            continue
        key = str(room["guid"]) if room.get("guid") else None
        extra = room_meta.get(key, {}) if key else {}
        try:
            kind = extra.get("kind") or (
                "virtual" if room.get("type") in ("online", "bbb") else "physical"
            )
            found[room["name"]] = RoomRow(
                name=room["name"],
                key=key,
                kind=kind if kind in ("physical", "virtual") else "physical",
                stream_url=url_of(text_of(room.get("url"), 2000)),
                says_stream="url" in room,
                capacity=count_of(room.get("capacity")),
                position=int(extra.get("position", i)),
            )
        except (ValueError, TypeError) as exc:
            problems.add(f"conference.rooms[{i}]", "room", str(exc))
    return found


def _colours(conference: dict[str, Any]) -> dict[str, str]:
    colours = {}
    for track in conference.get("tracks") or []:
        if isinstance(track, dict) and isinstance(track.get("name"), str):
            colour = track.get("color")
            if isinstance(colour, str) and len(colour) == 7 and colour.startswith("#"):
                colours[track["name"]] = colour
    return colours


def _event(
    where: str,
    event: Any,
    room_name: str,
    zone: ZoneInfo,
    session_meta: dict[str, dict[str, Any]],
    problems: Problems,
) -> SessionRow | None:
    if not isinstance(event, dict):
        problems.add(where, "event", "must be an object")
        return None
    key = event.get("guid") or event.get("id")
    if key in (None, ""):
        problems.add(where, "guid", "is required (or id)")
        return None
    key = str(key)
    where = f"event {key}"
    before = len(problems.errors)
    title = _field(where, "title", problems, lambda: _nonempty(text_of(event.get("title"), 300)))
    starts_at = _field(where, "date", problems, lambda: parse_time(str(event["date"]), zone))
    ends_at = None
    if starts_at is not None:
        ends_at = _field(
            where,
            "end" if event.get("end") else "duration",
            problems,
            lambda: _end(event, starts_at, zone),
        )
    extra = session_meta.get(key, {})
    kind = str(extra.get("format") or event.get("type") or "talk").lower()
    values = {
        "abstract": lambda: text_of(event.get("abstract") or event.get("description"), 50_000),
        "language": lambda: language_of(event.get("language")),
        "track": lambda: text_of(event.get("track"), 200),
        "capacity": lambda: count_of(extra.get("capacity")),
        "live_qa": lambda: flag_of(extra.get("live_qa", False)),
        "stream_url": lambda: url_of(text_of(extra.get("stream_url"), 2000)),
        "speakers": lambda: _persons(event.get("persons") or []),
    }
    if not extra:  # another tool's file: leave what frab cannot say alone
        del values["capacity"], values["live_qa"], values["stream_url"]
    elif "stream_url" not in extra:  # a public export (join_url only): keep the stream
        del values["stream_url"]
    fields = {name: _field(where, name, problems, check) for name, check in values.items()}
    if len(problems.errors) != before or title is None or starts_at is None or ends_at is None:
        return None
    if ends_at <= starts_at:
        problems.add(where, "duration", "must be longer than zero")
        return None
    return SessionRow(
        where=where,
        key=key,
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        format=kind if kind in SESSION_FORMATS else FRAB_TYPES.get(kind, "other"),
        room=text_of(event.get("room") or room_name, 200),
        present=frozenset({"title", "starts_at", "ends_at", "format", "room", *fields}),
        **fields,
    )


def _field(where: str, name: str, problems: Problems, check: Any) -> Any:
    try:
        return check()
    except KeyError:
        problems.add(where, name, "is required")
    except (ValueError, TypeError) as exc:
        problems.add(where, name, str(exc) or "invalid value")
    return None


def _nonempty(value: str | None) -> str:
    if not value:
        raise ValueError("is required")
    return value


def _end(event: dict[str, Any], starts_at: datetime, zone: ZoneInfo) -> datetime:
    if event.get("end"):
        return parse_time(str(event["end"]), zone)
    match = DURATION.match(str(event["duration"]))
    if not match:
        raise ValueError(f"{event['duration']!r} is not HH:MM")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return starts_at + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _persons(persons: Any) -> list[SpeakerRow]:
    if not isinstance(persons, list):
        raise ValueError("persons must be a list")
    rows = []
    for person in persons:
        if not isinstance(person, dict):
            raise ValueError("a person must be an object")
        name = text_of(person.get("name") or person.get("public_name"), 200)
        if not name:
            raise ValueError("a person has no name")
        key = person.get("guid") or person.get("id") or person.get("code")
        rows.append(
            SpeakerRow(
                name=name,
                key=str(key) if key not in (None, "") else None,
                bio=text_of(person.get("biography"), 20_000),
                organisation=text_of(person.get("organisation"), 200),
            )
        )
    return rows
