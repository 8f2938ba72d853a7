"""``programme.csv``: one row per session, the columns the CSV import reads.

Columns (also the import's; see :mod:`schedule.imports`): ``id`` (the imported
id, else ours: re-importing the file matches rows to sessions), ``title``,
``abstract``, ``format``, ``track``, ``room``, ``starts_at``, ``ends_at`` (ISO
8601 with the festival's offset), ``speakers`` (names, ``;``-separated),
``capacity``, ``live_qa`` (``yes``/``no``), ``language``, ``stream_url``,
``status``. That is the organisers' file; everybody else's has ``join_url``
(the session's live page, when it has a stream) where ``stream_url`` stands,
which the import reads as derived and leaves alone. The file starts with a
UTF-8 byte order mark so spreadsheet apps read accents right. Cells that a
spreadsheet would run as a formula (leading ``=``, ``+``, ``@``, tab) get a
leading apostrophe, which the import strips.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from festival.models import Festival
from schedule.exports import public_join_url
from schedule.models import Session

COLUMNS = (
    "id",
    "title",
    "abstract",
    "format",
    "track",
    "room",
    "starts_at",
    "ends_at",
    "speakers",
    "capacity",
    "live_qa",
    "language",
    "stream_url",
    "status",
)
PUBLIC_COLUMNS = tuple("join_url" if c == "stream_url" else c for c in COLUMNS)
FORMULA_STARTS = ("=", "+", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def programme_csv(
    festival: Festival, sessions: Iterable[Session], *, base_url: str, private: bool = False
) -> bytes:
    """The programme as CSV (speakers, room and track loaded on each session);
    ``private`` (the organisers' file) with stream URLs, else with join URLs."""
    zone = ZoneInfo(festival.timezone)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS if private else PUBLIC_COLUMNS)
    for s in sessions:
        link = s.stream_url if private else public_join_url(base_url, s)
        writer.writerow(
            [
                s.external_id or str(s.id),
                safe_cell(s.title),
                safe_cell(s.abstract or ""),
                s.format,
                safe_cell(s.track.name) if s.track else "",
                safe_cell(s.room.name) if s.room else "",
                s.starts_at.astimezone(zone).isoformat(),
                s.ends_at.astimezone(zone).isoformat(),
                ";".join(safe_cell(p.name.replace(";", ",")) for p in s.speakers),
                "" if s.capacity is None else str(s.capacity),
                "yes" if s.live_qa else "no",
                s.language or "",
                link or "",
                s.status,
            ]
        )
    return out.getvalue().encode()
