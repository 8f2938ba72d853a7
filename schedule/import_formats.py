"""Reading import files (CSV and frab JSON) into plain rows, or errors that say where.

Nothing here touches the database: a file is read whole, every row checked,
and all problems reported at once, each naming the row (CSV, counting the
header as row 1) or the event (frab: its guid, else its position) and the
field. Times without an offset are wall-clock times in the festival's zone.

CSV columns (header row required, any order): ``title``, ``starts_at`` and
``ends_at`` are required; ``id``, ``abstract``, ``format``, ``track``,
``room``, ``speakers`` (``;``-separated names), ``capacity``, ``live_qa``
(yes/no, true/false, 1/0), ``language``, ``stream_url`` and ``status``
(scheduled/cancelled) are optional. ``join_url`` (what a public
``programme.csv`` has instead of ``stream_url``) is derived, so it is read as
nothing. Unknown columns are refused (a typo would otherwise be silently ignored).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from schedule.exports.csv import COLUMNS, FORMULA_STARTS
from schedule.models import SESSION_FORMATS
from schedule.timing import local_from_naive

REQUIRED_COLUMNS = ("title", "starts_at", "ends_at")
DERIVED_COLUMNS = ("join_url",)  # written by the export, ignored by the import
MAX_ROWS = 20_000
_LANGUAGE = re.compile(r"^[A-Za-z]{2,8}(-\w+)*$")
DURATION = re.compile(r"^(\d{1,3}):([0-5]\d)(?::([0-5]\d))?$")
_TRUE = {"yes", "true", "1", "y"}
_FALSE = {"no", "false", "0", "n", ""}
FRAB_TYPES = {
    "lecture": "talk",
    "hands-on": "workshop",
    "meeting": "panel",
    "discussion": "panel",
    "podium": "panel",
    "game": "other",
}


@dataclass
class SpeakerRow:
    name: str
    key: str | None = None
    bio: str | None = None
    organisation: str | None = None


@dataclass
class RoomRow:
    name: str
    key: str | None = None
    kind: str = "physical"
    stream_url: str | None = None
    capacity: int | None = None
    position: int = 0
    # False when the file says nothing of the room's stream (a public export has
    # none): a room already there keeps its own.
    says_stream: bool = True


@dataclass
class SessionRow:
    where: str
    key: str | None
    title: str
    starts_at: datetime
    ends_at: datetime
    abstract: str | None = None
    format: str = "talk"
    track: str | None = None
    room: str | None = None
    speakers: list[SpeakerRow] = field(default_factory=list)
    capacity: int | None = None
    live_qa: bool = False
    language: str | None = None
    stream_url: str | None = None
    status: str = "scheduled"
    # The fields the file gives; the others are left as they are on re-import.
    present: frozenset[str] = frozenset()


@dataclass
class Parsed:
    format: str
    sessions: list[SessionRow]
    rooms: dict[str, RoomRow] = field(default_factory=dict)
    track_colours: dict[str, str] = field(default_factory=dict)


class Problems:
    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def add(self, where: str, name: str, message: str) -> None:
        self.errors.append({"field": f"{where}: {name}" if where else name, "message": message})


def _unformula(value: str) -> str:
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def parse_time(value: str, zone: ZoneInfo) -> datetime:
    """ISO 8601; with an offset it is that instant, without one a wall-clock time in ``zone``."""
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    aware = local_from_naive(moment, zone)
    if aware is None:
        raise ValueError(f"{value} does not exist in {zone.key} (daylight saving gap)")
    return aware


def text_of(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > limit:
        raise ValueError(f"longer than {limit} characters")
    return text or None


def url_of(value: str | None) -> str | None:
    if value and not re.match(r"^https?://\S+$", value):
        raise ValueError("not an http(s) URL")
    return value or None


def parse_csv(data: bytes, zone: ZoneInfo) -> Parsed:
    problems = Problems()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add("", "file", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        return fail(problems)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS and c not in DERIVED_COLUMNS]
    for name in missing:
        problems.add("row 1", name, "required column is missing")
    for name in unknown:
        problems.add("row 1", name, f"unknown column (known: {', '.join(COLUMNS)})")
    if len(set(header)) != len(header):
        problems.add("row 1", "header", "a column appears twice")
    if problems.errors:
        return fail(problems)
    rows: list[SessionRow] = []
    seen: dict[str, str] = {}
    for number, raw in enumerate(reader, start=2):
        if number > MAX_ROWS + 1:
            problems.add(f"row {number}", "file", f"more than {MAX_ROWS} rows")
            break
        if None in raw:
            problems.add(f"row {number}", "row", "more cells than columns")
            continue
        cells = {k: _unformula((v or "").strip()) for k, v in raw.items()}
        row = _csv_row(f"row {number}", cells, zone, problems)
        if row is not None and row.key is not None and row.key in seen:
            problems.add(row.where, "id", f"{row.key!r} is also used by {seen[row.key]}")
        elif row is not None:
            rows.append(row)
            if row.key is not None:
                seen[row.key] = row.where
    if problems.errors:
        return fail(problems)
    return Parsed("csv", rows)


def _csv_row(
    where: str, cells: dict[str, str], zone: ZoneInfo, problems: Problems
) -> SessionRow | None:
    values: dict[str, Any] = {}
    checks: list[tuple[str, Any]] = [
        ("title", lambda v: _required(text_of(v, 300))),
        ("starts_at", lambda v: parse_time(v, zone)),
        ("ends_at", lambda v: parse_time(v, zone)),
        ("id", lambda v: text_of(v, 200)),
        ("abstract", lambda v: text_of(v, 50_000)),
        ("format", lambda v: _choice(v or "talk", SESSION_FORMATS)),
        ("track", lambda v: text_of(v, 200)),
        ("room", lambda v: text_of(v, 200)),
        ("speakers", lambda v: [SpeakerRow(n) for n in _names(v)]),
        ("capacity", lambda v: count_of(v)),
        ("live_qa", flag_of),
        ("language", language_of),
        ("stream_url", lambda v: url_of(text_of(v, 2000))),
        ("status", lambda v: _choice(v or "scheduled", ("scheduled", "cancelled"))),
    ]
    for name, check in checks:
        if name not in cells and name not in REQUIRED_COLUMNS:
            continue
        try:
            values[name] = check(cells.get(name, ""))
        except ValueError as exc:
            problems.add(where, name, str(exc) or "invalid value")
    if len(values) != len([c for c, _ in checks if c in cells or c in REQUIRED_COLUMNS]):
        return None
    if values["ends_at"] <= values["starts_at"]:
        problems.add(where, "ends_at", "ends before it starts")
        return None
    key = values.pop("id", None)
    return SessionRow(where=where, key=key, present=frozenset(values), **values)


def _required(value: str | None) -> str:
    if not value:
        raise ValueError("is required")
    return value


def _choice(value: str, allowed: tuple[str, ...]) -> str:
    value = value.strip().lower()
    if value not in allowed:
        raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _names(value: str) -> list[str]:
    names = [n.strip() for n in value.split(";") if n.strip()]
    if any(len(n) > 200 for n in names):
        raise ValueError("a name is longer than 200 characters")
    if len({n.lower() for n in names}) != len(names):
        raise ValueError("a speaker is listed twice")
    return names


def count_of(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not re.match(r"^\d{1,7}$", str(value).strip()):
        raise ValueError(f"{value!r} is not a whole number of seats")
    return int(value)


def flag_of(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not yes or no")


def language_of(value: Any) -> str | None:
    text = text_of(value, 35)
    if text and not _LANGUAGE.match(text):
        raise ValueError(f"{text!r} is not a language tag")
    return text


def fail(problems: Problems) -> Parsed:
    from schedule.errors import ImportFailed

    raise ImportFailed(problems.errors)
