"""iCalendar (RFC 5545) export, written line by line for speed.

Times are given in the festival's zone with a ``VTIMEZONE`` (made once per zone
and year range by icalendar, then cached: it depends on nothing that changes).
A wall-clock time that happens twice (the autumn DST hour) is written in UTC
instead, because RFC 5545 reads an ambiguous local time as its first occurrence.
``DTSTAMP`` and ``LAST-MODIFIED`` are the session's last change, so the same data
always gives the same bytes (and the feed's ETag stays honest).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from festival.models import Festival
from schedule.exports import public_join_url, session_url_prefix
from schedule.models import Session

PRODID = "-//Festival//Programme//EN"
_CONTROLS: dict[str, str | None] = {chr(c): None for c in (*range(9), *range(11, 32), 127)}
_ESCAPES = str.maketrans({"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n", **_CONTROLS})


def calendar_ics(
    festival: Festival,
    sessions: Iterable[Session],
    *,
    name: str,
    base_url: str,
    join_links: bool = False,
) -> bytes:
    """An iCalendar of ``sessions`` (speakers, room and track loaded).

    Each event has a stable ``UID`` (``<session id>@festival``), ``SEQUENCE`` =
    ``session.sequence``, and ``STATUS:CANCELLED`` when cancelled (it stays in
    the feed so calendar apps remove it). A session with a stream (its own or
    its virtual room's) has its live page, the ``join_url``, as ``LOCATION``
    when it is online; ``join_links`` adds it as ``CONFERENCE`` and in the
    description. The stream URL itself is never written: a calendar is read by
    anyone it is shared with, and the live page lets only participants in.
    """
    zone = ZoneInfo(festival.timezone)
    head = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        _fold(f"NAME:{_text(name)}"),
        _fold(f"X-WR-CALNAME:{_text(name)}"),
        f"X-WR-TIMEZONE:{festival.timezone}",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
        *vtimezone(festival.timezone, festival.starts_on.year, festival.ends_on.year),
    ]
    url_base = session_url_prefix(base_url, festival.slug)
    chunks = ["\r\n".join(head)]
    chunks += (_event(s, zone, url_base, base_url, join_links) for s in sessions)
    chunks.append("END:VCALENDAR\r\n")
    return "\r\n".join(chunks).encode()


def _event(session: Session, zone: ZoneInfo, url_base: str, base_url: str, join_links: bool) -> str:
    """One VEVENT, folded; lines that cannot pass 75 octets are not checked."""
    stamp = _utc(session.updated_at)
    stream = public_join_url(base_url, session)
    room, speakers, track = session.room, session.speakers, session.track
    location = stream if (room is None or room.kind == "virtual") and stream else None
    if location is None and room is not None:
        location = room.name
    description = [session.abstract or ""]
    if speakers:
        description.append("Speakers: " + ", ".join(s.name for s in speakers))
    if join_links and stream:
        description.append(f"Join: {stream}")
    status = "CANCELLED" if session.status == "cancelled" else "CONFIRMED"
    lines = [
        f"BEGIN:VEVENT\r\nUID:{session.id}@festival\r\nDTSTAMP:{stamp}\r\n"
        f"CREATED:{_utc(session.created_at)}\r\nLAST-MODIFIED:{stamp}\r\n"
        f"SEQUENCE:{session.sequence}\r\n{_when('DTSTART', session.starts_at, zone)}\r\n"
        f"{_when('DTEND', session.ends_at, zone)}\r\nSTATUS:{status}\r\nTRANSP:OPAQUE",
        _fold(f"SUMMARY:{_text(session.title)}"),
        _fold(f"DESCRIPTION:{_text(chr(10).join(d for d in description if d))}"),
        _fold(f"URL:{url_base}{session.id}"),
    ]
    if location:
        lines.append(_fold(f"LOCATION:{_text(location)}"))
    if track is not None:
        lines.append(_fold(f"CATEGORIES:{_text(track.name)}"))
    if join_links and stream:
        lines.append(_fold(f"CONFERENCE;VALUE=URI;FEATURE=VIDEO;LABEL=Join:{stream}"))
    lines.append("END:VEVENT")
    return "\r\n".join(lines)


def _when(prop: str, moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    if local.fold:
        return f"{prop}:{_utc(moment)}"
    return f"{prop};TZID={zone.key}:{local.strftime('%Y%m%dT%H%M%S')}"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    return value.translate(_ESCAPES)


def _fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character."""
    if len(line) <= 75 and line.isascii():
        return line
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    start, limit = 0, 75
    while start < len(raw):
        end = min(start + limit, len(raw))
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:
            end -= 1
        parts.append(raw[start:end].decode())
        start, limit = end, 74
    return "\r\n ".join(parts)


@lru_cache(maxsize=32)
def vtimezone(tzid: str, first_year: int, last_year: int) -> tuple[str, ...]:
    """The VTIMEZONE of ``tzid`` from the year before the festival to the year after.

    Made from zoneinfo's own transitions, one sub-component per transition,
    each ``DTSTART`` the local onset in the offset it changes *from*, as RFC
    5545 (3.6.5) defines it. (icalendar 7's ``Timezone.from_tzid`` writes the
    spring onset one hour late, 03:00 instead of 02:00 for Europe/Amsterdam.)
    """
    zone = ZoneInfo(tzid)
    start = int(datetime(first_year - 1, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(last_year + 2, 1, 1, tzinfo=UTC).timestamp())

    def local(second: int) -> datetime:
        return datetime.fromtimestamp(second, UTC).astimezone(zone)

    first = local(start)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{tzid}"]
    lines += _observance(first, first.replace(tzinfo=None), first.utcoffset())
    offset, second = first.utcoffset(), start
    while second < end:  # zones change offset at most a few times a year: step hours
        step = second + 3600
        if local(step).utcoffset() != offset:
            low, high = second, step
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if local(middle).utcoffset() == offset else (low, middle)
            after = local(high)
            onset = datetime.fromtimestamp(high, UTC).replace(tzinfo=None) + offset  # type: ignore[operator]
            lines += _observance(after, onset, offset)
            offset = after.utcoffset()
        second = step
    lines.append("END:VTIMEZONE")
    return tuple(lines)


def _observance(after: datetime, onset: datetime, offset_from: timedelta | None) -> list[str]:
    kind = "DAYLIGHT" if after.dst() else "STANDARD"
    return [
        f"BEGIN:{kind}",
        f"DTSTART:{onset.strftime('%Y%m%dT%H%M%S')}",
        f"TZNAME:{after.tzname()}",
        f"TZOFFSETFROM:{_offset(offset_from)}",
        f"TZOFFSETTO:{_offset(after.utcoffset())}",
        f"END:{kind}",
    ]


def _offset(value: timedelta | None) -> str:
    seconds = int((value or timedelta()).total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{secs:02d}" if secs else "")
