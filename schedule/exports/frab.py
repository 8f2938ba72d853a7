"""frab / C3VOC ``schedule.json`` and ``schedule.xml``.

Valid against the schemas in ``shared/schemas`` (see their README):
- the acronym is the slug without hyphens (the JSON pattern refuses them);
- persons carry ``name`` and ``public_name`` but no integer ``id``, so exactly
  one branch of the schema's ``oneOf`` matches;
- empty URLs are omitted, never written as empty elements;
- the legacy integer event ``id`` is derived from the guid and de-duplicated;
- a track's slug is one XML-name-safe form in both files (see :func:`track_slugs`);
- events carry ``duration``, not ``end``: the C3VOC's own library copies every
  event key into the ``schedule.xml`` it writes, and the XSD has no ``<end>``.
Cancelled sessions are left out: signage and schedule apps have no way to show
them. Fields frab has no place for (seat capacity, live Q&A, the live page a
session's stream is reached from, ``join_url``, room kind and position) travel
in ``conference.meta.festival`` as
lists of objects that name their session or room by ``guid``, so importing our
own export reproduces the programme. Never as maps keyed by ids: readers such as
the C3VOC library turn JSON keys into XML element names, and a UUID is not one.
Both the frab ``Event`` schema and the XSD's ``<event>`` are closed, so these
fields cannot sit on the event itself.

Stream URLs are for the festival's participants: only the organisers'
``schedule.json`` carries them (a session's own as ``stream_url`` in its meta
item, a room's as the room's ``url``), so that their export imports back whole.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from festival.models import Festival
from schedule.exports import guid_of, public_join_url, session_url
from schedule.models import Room, Session, Track
from schedule.timing import day_bounds, festival_days

SCHEMA_URL = "https://c3voc.de/schedule/schema.json"
GENERATOR = {"name": "festival", "version": "0.1.0"}
_TZ_NAME = re.compile(r"^([A-Z][a-z]+/[A-Z][a-z]+)|UTC$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# The XSD's track slug (a letter, then letters, digits, hyphens) that also ends as
# the JSON schema's does (a letter or digit).
_TRACK_SLUG = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")


@dataclass
class _Event:
    session: Session
    guid: str
    number: int
    local_start: datetime


def acronym(slug: str) -> str:
    """The frab acronym: the slug without hyphens, at least four characters."""
    return slug.replace("-", "_").ljust(4, "_")


def _slugify(text: str) -> str:
    return _NOT_SLUG.sub("-", text.lower()).strip("-")[:60].strip("-") or "session"


def track_slugs(tracks: Iterable[Track]) -> list[tuple[Track, str]]:
    """The tracks by name, each with the slug both exports give it.

    The slug is the name folded to ASCII and slugified (``Food & Agriculture``
    is ``food-agriculture``), prefixed with ``track-`` when that would not start
    with a letter or would be shorter than two characters (``2030 Agenda`` is
    ``track-2030-agenda``), and suffixed ``-2``, ``-3``... when two names give
    the same one. Valid for the XSD and the JSON schema alike.
    """
    slugs: list[tuple[Track, str]] = []
    used: set[str] = set()
    for track in sorted(tracks, key=lambda t: t.name):
        folded = unicodedata.normalize("NFKD", track.name).encode("ascii", "ignore").decode()
        slug = _NOT_SLUG.sub("-", folded.lower()).strip("-")[:60].strip("-")
        if not _TRACK_SLUG.match(slug):
            slug = f"track-{slug}".rstrip("-")
        unique, n = slug, 1
        while unique in used:
            n += 1
            unique = f"{slug}-{n}"
        used.add(unique)
        slugs.append((track, unique))
    return slugs


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
        events.append(_Event(session, guid, number, session.starts_at.astimezone(zone)))
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


def _meta(
    events: list[_Event], rooms: Iterable[Room], base_url: str, private: bool
) -> dict[str, Any]:
    """What frab has no field for, as lists naming their session or room by guid."""
    sessions = []
    for event in events:
        s = event.session
        extra: dict[str, Any] = {"format": s.format, "capacity": s.capacity, "live_qa": s.live_qa}
        if private:
            extra["stream_url"] = s.stream_url
        else:
            extra["join_url"] = public_join_url(base_url, s)
        sessions.append(
            {"guid": event.guid, **{k: v for k, v in extra.items() if v not in (None, False)}}
        )
    return {
        "sessions": sessions,
        "rooms": [{"guid": guid_of(r), "kind": r.kind, "position": r.position} for r in rooms],
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
    private: bool = False,
) -> bytes:
    """The frab ``schedule.json`` of the (non-cancelled) sessions; ``private``
    (the organisers' copy) with stream URLs, else with join URLs."""
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
        "tracks": [_json_track(t, slug) for t, slug in track_slugs(tracks)],
        "rooms": [_json_room(r, private) for r in all_rooms],
        "meta": {"festival": _meta(events, all_rooms, base_url, private)},
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


def _json_track(track: Track, slug: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": track.name, "slug": slug}
    if track.colour:
        out["color"] = track.colour.lower()
    return out


def _json_room(room: Room, private: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": room.name,
        "guid": guid_of(room),
        "type": "online" if room.kind == "virtual" else "lecturehall",
        "capacity": room.capacity,
    }
    if private and room.stream_url:
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
    """The frab ``schedule.xml`` of the (non-cancelled) sessions.

    Written as escaped strings rather than an lxml tree: three times faster for
    a large programme, and the tests validate every output against the XSD.
    """
    zone = ZoneInfo(festival.timezone)
    events = _events(sessions, zone)
    root = base_url.rstrip("/")
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n<schedule>\n',
        f'  <generator name="{GENERATOR["name"]}" version="{GENERATOR["version"]}"/>\n',
        f"  <url>{_x(root)}/api/v1/festivals/{festival.slug}/schedule.xml</url>\n",
        f"  <version>{_x(version)}</version>\n  <conference>\n",
    ]
    for tag, text in (
        ("title", festival.name),
        ("acronym", acronym(festival.slug)),
        ("start", festival.starts_on.isoformat()),
        ("end", festival.ends_on.isoformat()),
        ("days", str((festival.ends_on - festival.starts_on).days + 1)),
        ("timeslot_duration", "00:05"),
        ("base_url", root + "/"),
        ("url", f"{root}/f/{festival.slug}"),
        ("time_zone_name", festival.timezone),
    ):
        out.append(f"    <{tag}>{_x(text)}</{tag}>\n")
    for track, slug in track_slugs(tracks):
        colour = f' color="{track.colour.lower()}"' if track.colour else ""
        out.append(
            f'    <track name="{_x(track.name)}" slug="{slug}"{colour}>{_x(track.name)}</track>\n'
        )
    out.append("  </conference>\n")
    for index, day, start, end, day_events in _days(festival, events, zone):
        out.append(
            f'  <day index="{index}" date="{day.isoformat()}" start="{start.isoformat()}"'
            f' end="{end.isoformat()}">\n'
        )
        for room in _rooms_of(day_events):
            guid = f' guid="{guid_of(room)}"' if room is not None else ""
            out.append(f'    <room name="{_x(room.name) if room else ""}"{guid}>\n')
            for event in day_events:
                if event.session.room is room:
                    _xml_event(out, event, festival.slug, root)
            out.append("    </room>\n")
        out.append("  </day>\n")
    out.append("</schedule>\n")
    return "".join(out).encode()


def _xml_event(out: list[str], event: _Event, slug: str, base_url: str) -> None:
    s = event.session
    out.append(f'      <event id="{event.number}" guid="{event.guid}">\n')
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
        ("language", s.language or ""),
    ):
        if text or tag != "language":
            out.append(f"        <{tag}>{_x(text)}</{tag}>\n")
    out.append("        <persons>")
    for speaker in s.speakers:
        out.append(f'<person guid="{guid_of(speaker)}">{_x(speaker.name)}</person>')
    out.append("</persons>\n        <links/>\n      </event>\n")


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def _x(text: str) -> str:
    """Text or attribute content, escaped, without characters XML 1.0 forbids."""
    return _XML_INVALID.sub("", text).translate(_XML_ESCAPES)
