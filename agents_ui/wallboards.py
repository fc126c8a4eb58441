"""The supervisors' wallboard: the day's service figures for the whole floor, read from the ledger.

What changes by the second (callers waiting, agents by state, offers ringing, pages, the worklist) reaches
the wallboard as the console's own pushes; these figures, which read every call of the day, are asked for
every FIGURES_EVERY seconds. Service level, answer speed and abandonment are `callcenter.figures.day`'s:
the same rules as the practice dashboard and the simulator's report.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from time import monotonic as time_now
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import figures, schedule
from callcenter.models import Practice

FIGURES_EVERY = 30  # seconds between two reads of the day's figures by one wallboard
MORNING = time(8, 0)  # "tonight" ends at this hour of each practice's own clock


def zone(name: str | None) -> ZoneInfo:
    """The wall screen's timezone (an IANA name such as America/New_York); UTC when none is given."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unknown timezone {name[:60]!r}: use a name such as America/New_York.") from exc


def figures_now(session: Session, tz: ZoneInfo, now: datetime) -> dict:
    """Today so far (midnight on the wall screen's clock to now) and the last hour, for every practice."""
    midnight = datetime.combine(now.astimezone(tz).date(), time(0), tz).astimezone(UTC)
    today = figures.day(session, midnight, now, tz)
    last_hour = figures.day(session, now - timedelta(hours=1), now)
    last_hour.pop("by_hour")
    return {"today": today, "last_hour": last_hour}


def gaps_tonight(session: Session, now: datetime) -> list[dict]:
    """Each practice's stretches with the practice closed and nobody on call, from now until the next
    MORNING on its own clock, earliest first."""
    found = []
    for practice in session.scalars(select(Practice).order_by(Practice.name)):
        local = now.astimezone(ZoneInfo(practice.timezone))
        morning = datetime.combine(local.date(), MORNING, local.tzinfo)
        if morning <= local:
            morning += timedelta(days=1)
        for gap in schedule.gaps(session, practice, now, morning.astimezone(UTC)):
            found.append({"practice": practice.name, "starts_at": gap.starts_at.isoformat(),
                          "ends_at": gap.ends_at.isoformat()})
    return sorted(found, key=lambda g: g["starts_at"])


_lock = threading.Lock()


def board(session: Session, tz: ZoneInfo, now: datetime, kept: dict | None = None) -> dict:
    """Everything the wallboard reads from the ledger, at `now`. With `kept` (the app's own dict: timezone ->
    (when read, the board)), read again at most every FIGURES_EVERY / 2 seconds by this process, however
    many wallboards are open (a busy day's calls and their events are many rows)."""
    if kept is not None:
        with _lock:
            found = kept.get(tz.key)
        if found is not None and 0 <= time_now() - found[0] < FIGURES_EVERY / 2:
            return found[1]
    read = {**figures_now(session, tz, now), "gaps_tonight": gaps_tonight(session, now), "at": now.isoformat(),
            "timezone": tz.key}
    if kept is not None:
        with _lock:
            kept[tz.key] = (time_now(), read)
    return read
