"""Business hours, after-hours and holidays, in the practice's own timezone."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

# Used when a practice has not set its hours: weekdays 8:00 to 17:00.
DEFAULT_HOURS = tuple((day, time(8, 0), time(17, 0)) for day in range(5))


def local_time(at: datetime, timezone: str) -> datetime:
    return at.astimezone(ZoneInfo(timezone))


def is_open(at: datetime, timezone: str, hours: list[tuple[int, time, time]] | tuple,
            holidays: set) -> bool:
    """Whether the practice is open at instant `at` (aware), given weekday periods and closed dates."""
    local = local_time(at, timezone)
    if local.date() in holidays:
        return False
    now = local.time()
    return any(day == local.weekday() and opens <= now < closes for day, opens, closes in (hours or DEFAULT_HOURS))


def practice_is_open(practice, at: datetime) -> bool:
    hours = [(h.weekday, h.opens, h.closes) for h in practice.hours]
    return is_open(at, practice.timezone, hours, {h.day for h in practice.holidays})
