"""Times of a festival: its zone, its bounds and its days, DST included.

Everything is stored in UTC. A festival's dates are calendar days in its own
zone, so its bounds are local midnights turned into UTC; a day that has a
daylight-saving change is 23 or 25 hours long, and a session across the change
keeps its real length because its ends are instants, not wall-clock times.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from festival.models import Festival


@lru_cache(maxsize=64)
def zone_of(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def festival_zone(festival: Festival) -> ZoneInfo:
    return zone_of(festival.timezone)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone``, in UTC."""
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where ``day`` starts and the next day starts, in ``zone``."""
    return local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)


def festival_bounds(festival: Festival) -> tuple[datetime, datetime]:
    zone = festival_zone(festival)
    return local_midnight(festival.starts_on, zone), local_midnight(
        festival.ends_on + timedelta(days=1), zone
    )


def festival_days(festival: Festival) -> list[date]:
    count = (festival.ends_on - festival.starts_on).days + 1
    return [festival.starts_on + timedelta(days=i) for i in range(count)]


def local_from_naive(value: datetime, zone: ZoneInfo) -> datetime | None:
    """A naive wall-clock time read in ``zone``; None if that time does not exist.

    In the autumn hour that happens twice, the first (summer time) is meant.
    """
    aware = value.replace(tzinfo=zone)
    round_trip = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != value:
        return None
    return aware.astimezone(UTC)
