"""frab / C3VOC ``schedule.json`` and ``schedule.xml``.

Valid against the schemas in ``shared/schemas`` (see their README):
- the acronym is the slug without hyphens (the JSON pattern refuses them);
- persons carry ``name`` and ``public_name`` but no integer ``id``, so exactly
  one branch of the schema's ``oneOf`` matches;
- empty URLs are omitted, never written as empty elements;
- the legacy integer event ``id`` is derived from the guid and de-duplicated.
Cancelled sessions are left out: signage and schedule apps have no way to show
them. Fields frab has no place for (seat capacity, live Q&A, a session's own
stream URL, room kind) travel in ``conference.meta.festival``, so importing
our own export reproduces the programme.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from festival.models import Festival
from schedule.exports import guid_of, session_url
from schedule.models import Room, Session, Track
from schedule.timing import day_bounds, festival_days

SCHEMA_URL = "https://c3voc.de/schedule/schema.json"
GENERATOR = {"name": "festival", "version": "0.1.0"}
_TZ_NAME = re.compile(r"^([A-Z][a-z]+/[A-Z][a-z]+)|UTC$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class _Event:
    session: Session
    guid: str
    number: int
    local_start: datetime
    local_end: datetime


def acronym(slug: str) -> str:
    """The frab acronym: the slug without hyphens, at least four characters."""
    return slug.replace("-", "_").ljust(4, "_")


def _slugify(text: str) -> str:
    return _NOT_SLUG.sub("-", text.lower()).strip("-")[:60].strip("-") or "session"


def _duration(start: datetime, end: datetime) -> str:
    minutes = int((end - start).total_seconds() // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _events(sessions: Iterable[Session], zone: ZoneInfo) -> list[_Event]:
    events: list[_Event] = []
    used: set[int] = set()
    live = sorted(
        (s for s in sessions if s.status != "cancelled"), key=lambda s: (s.starts_at, s.id)
    )
    for session in live:
        guid = guid_of(session)
        number = uuid.UUID(guid).int % 2_000_000_000 + 1
        while number in used:
            number += 1
        used.add(number)
        events.append(
            _Event(
                session,
                guid,
                number,
                session.starts_at.astimezone(zone),
                session.ends_at.astimezone(zone),
            )
        )
    return events


def _rooms_of(events: list[_Event]) -> list[Room | None]:
    rooms: dict[Any, Room | None] = {}
    for event in events:
        rooms.setdefault(event.session.room_id, event.session.room)
    return sorted(
        rooms.values(), key=lambda r: (r is None, r.position if r else 0, r.name if r else "")
    )


def _days(
    festival: Festival, events: list[_Event], zone: ZoneInfo
) -> list[tuple[int, date, datetime, datetime, list[_Event]]]:
    by_day: dict[date, list[_Event]] = {}
    for event in events:
        by_day.setdefault(event.local_start.date(), []).append(event)
    days = []
    for index, day in enumerate(sorted(set(festival_days(festival)) | set(by_day)), start=1):
        start, end = day_bounds(day, zone)
        days.append((index, day, start.astimezone(zone), end.astimezone(zone), by_day.get(day, [])))
    return days


def _meta(events: list[_Event], rooms: Iterable[Room]) -> dict[str, Any]:
    sessions = {}
    for event in events:
        s = event.session
        extra = {
            "format": s.format,
            "capacity": s.capacity,
            "live_qa": s.live_qa,
            "stream_url": s.stream_url,
        }
        sessions[event.guid] = {k: v for k, v in extra.items() if v not in (None, False)}
    return {
        "sessions": sessions,
        "rooms": {guid_of(r): {"kind": r.kind, "position": r.position} for r in rooms},
    }


def _person(speaker: Any) -> dict[str, Any]:
    person: dict[str, Any] = {
        "guid": guid_of(speaker),
        "name": speaker.name,
        "public_name": speaker.name,
    }
    if speaker.bio:
        person["biography"] = speaker.bio
    if speaker.organisation:
        person["organisation"] = speaker.organisation
    return person


def _json_event(event: _Event, slug: str, base_url: str) -> dict[str, Any]:
    s = event.session
    return {
        "guid": event.guid,
        "id": event.number,
        "date": event.local_start.isoformat(),
        "start": event.local_start.strftime("%H:%M"),
        "end": event.local_end.isoformat(),
        "duration": _duration(s.starts_at, s.ends_at),
        "room": s.room.name if s.room else "",
        "slug": f"{acronym(slug)}-{event.number}-{_slugify(s.title)}",
        "url": session_url(base_url, slug, s),
        "title": s.title,
        "subtitle": None,
        "track": s.track.name if s.track else None,
        "type": s.format,
        "language": s.language,
        "abstract": s.abstract or "",
        "description": None,
        "persons": [_person(p) for p in s.speakers],
        "links": [],
        "attachments": [],
    }


def schedule_json(
    festival: Festival,
    sessions: Iterable[Session],
    tracks: Iterable[Track],
    rooms: Iterable[Room],
    *,
    base_url: str,
    version: str,
) -> bytes:
    """The frab ``schedule.json`` of the (non-cancelled) sessions."""
    zone = ZoneInfo(festival.timezone)
    events = _events(sessions, zone)
    all_rooms = sorted(rooms, key=lambda r: (r.position, r.name))
    conference: dict[str, Any] = {
        "acronym": acronym(festival.slug),
        "title": festival.name,
        "start": festival.starts_on.isoformat(),
        "end": festival.ends_on.isoformat(),
        "daysCount": (festival.ends_on - festival.starts_on).days + 1,
        "timeslot_duration": "00:05",
        "url": f"{base_url.rstrip('/')}/f/{festival.slug}",
        "tracks": [_json_track(t) for t in sorted(tracks, key=lambda t: t.name)],
        "rooms": [_json_room(r) for r in all_rooms],
        "meta": {"festival": _meta(events, all_rooms)},
        "days": [],
    }
    if festival.description:
        conference["description"] = festival.description
    if _TZ_NAME.search(festival.timezone):  # searched, as jsonschema does
        conference["time_zone_name"] = festival.timezone
    for index, day, start, end, day_events in _days(festival, events, zone):
        rooms_json: dict[str, list[dict[str, Any]]] = {}
        for event in day_events:
            rooms_json.setdefault(event.session.room.name if event.session.room else "", []).append(
                _json_event(event, festival.slug, base_url)
            )
        conference["days"].append(
            {
                "index": index,
                "date": day.isoformat(),
                "day_start": start.isoformat(),
                "day_end": end.isoformat(),
                "rooms": rooms_json,
            }
        )
    document = {
        "$schema": SCHEMA_URL,
        "generator": GENERATOR,
        "schedule": {
            "version": version,
            "base_url": base_url.rstrip("/") + "/",
            "conference": conference,
        },
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _json_track(track: Track) -> dict[str, Any]:
    out: dict[str, Any] = {"name": track.name, "slug": _slugify(track.name)}
    if track.colour:
        out["color"] = track.colour.lower()
    return out


def _json_room(room: Room) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": room.name,
        "guid": guid_of(room),
        "type": "online" if room.kind == "virtual" else "lecturehall",
        "capacity": room.capacity,
    }
    if room.stream_url:
        out["url"] = room.stream_url
    return out


def schedule_xml(
    festival: Festival,
    sessions: Iterable[Session],
    tracks: Iterable[Track],
    rooms: Iterable[Room],
    *,
    base_url: str,
    version: str,
) -> bytes:
    """The frab ``schedule.xml`` of the (non-cancelled) sessions, built with lxml."""
    from lxml import etree  # type: ignore[import-untyped]

    zone = ZoneInfo(festival.timezone)
    events = _events(sessions, zone)
    E = etree.SubElement
    root = etree.Element("schedule")
    E(root, "generator", name=GENERATOR["name"], version=GENERATOR["version"])
    E(root, "url").text = f"{base_url.rstrip('/')}/api/v1/festivals/{festival.slug}/schedule.xml"
    E(root, "version").text = version
    conf = E(root, "conference")
    for tag, text in (
        ("title", festival.name),
        ("acronym", acronym(festival.slug)),
        ("start", festival.starts_on.isoformat()),
        ("end", festival.ends_on.isoformat()),
        ("days", str((festival.ends_on - festival.starts_on).days + 1)),
        ("timeslot_duration", "00:05"),
        ("base_url", base_url.rstrip("/") + "/"),
        ("url", f"{base_url.rstrip('/')}/f/{festival.slug}"),
        ("time_zone_name", festival.timezone),
    ):
        E(conf, tag).text = text
    for track in sorted(tracks, key=lambda t: t.name):
        attrs = {"name": track.name, "slug": "t" + _slugify(track.name)}
        if track.colour:
            attrs["color"] = track.colour.lower()
        E(conf, "track", attrs).text = track.name
    for index, day, start, end, day_events in _days(festival, events, zone):
        day_el = E(
            root,
            "day",
            index=str(index),
            date=day.isoformat(),
            start=start.isoformat(),
            end=end.isoformat(),
        )
        for room in _rooms_of(day_events):
            attrs = {"name": room.name if room else ""}
            if room is not None:
                attrs["guid"] = guid_of(room)
            room_el = E(day_el, "room", attrs)
            for event in day_events:
                if event.session.room is room:
                    _xml_event(E, room_el, event, festival.slug, base_url)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)  # type: ignore[no-any-return]


def _xml_event(E: Any, parent: Any, event: _Event, slug: str, base_url: str) -> None:
    s = event.session
    el = E(parent, "event", id=str(event.number), guid=event.guid)
    for tag, text in (
        ("room", s.room.name if s.room else ""),
        ("title", s.title),
        ("type", s.format),
        ("date", event.local_start.isoformat()),
        ("start", event.local_start.strftime("%H:%M")),
        ("duration", _duration(s.starts_at, s.ends_at)),
        ("abstract", s.abstract or ""),
        ("slug", f"{acronym(slug)}-{event.number}-{_slugify(s.title)}"),
        ("track", s.track.name if s.track else ""),
        ("url", session_url(base_url, slug, s)),
    ):
        E(el, tag).text = text
    if s.language:
        E(el, "language").text = s.language
    persons = E(el, "persons")
    for speaker in s.speakers:
        E(persons, "person", guid=guid_of(speaker)).text = speaker.name
    E(el, "links")
