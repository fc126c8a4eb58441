"""Query-string parsing shared by the portal and the API; bad input names the parameter."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import abort

from callcenter.scoping import CALL_STATES

# An unescaped "+" in a query string arrives as a space: "...T14:31:52 00:00" means "+00:00".
_SPACE_OFFSET = re.compile(r"(\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d(?::?\d\d)?)$")
MAX_PAGE = 9_999_999
MAX_ID = 2**31 - 1  # the ids are 32-bit integer columns


class BadParameter(ValueError):
    """A query parameter that cannot be used; `str()` is safe to show the client."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name}: {problem}")
        self.name = name


def iso_time(name: str, raw: str | None) -> datetime | None:
    """An ISO 8601 time; one without an offset is taken as UTC."""
    if raw is None or raw == "":
        return None
    text = _SPACE_OFFSET.sub(r"\1+\2", raw.strip())
    try:
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadParameter(name, f"not an ISO 8601 time: {raw[:60]!r} (e.g. 2026-11-27T14:31:52+00:00)") from None


def page_number(raw: str | None) -> int:
    """A page number, 1 when absent."""
    if raw is None or raw == "":
        return 1
    if not re.fullmatch(r"[0-9]{1,7}", raw) or int(raw) < 1:
        raise BadParameter("page", f"must be a whole number from 1 to {MAX_PAGE}, not {raw[:20]!r}")
    return int(raw)


def object_id(raw: str) -> int:
    """An id from a URL; anything that cannot be one is simply not found."""
    if not re.fullmatch(r"[0-9]{1,10}", raw) or int(raw) > MAX_ID:
        abort(404)
    return int(raw)


def call_status(raw: str | None) -> str | None:
    """A call state to filter on, or None for all."""
    if raw is None or raw == "":
        return None
    if raw not in CALL_STATES:
        raise BadParameter("status", f"unknown status {raw[:40]!r}; one of {', '.join(CALL_STATES)}")
    return raw


def local_day(name: str, raw: str | None, tz: ZoneInfo, *, end: bool = False) -> datetime | None:
    """The start of a calendar day in the practice's timezone (of the next day when `end`), in UTC."""
    if raw is None or raw == "":
        return None
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise BadParameter(name, f"not a date: {raw[:60]!r} (e.g. 2026-11-27)") from None
    try:
        if end:
            day += timedelta(days=1)
        return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
    except OverflowError:  # 9999-12-31 and its neighbours
        raise BadParameter(name, f"out of range: {raw[:60]!r}") from None


def time_range(since: datetime | None, until: datetime | None, until_name: str = "until") -> None:
    """Refuse a range that ends before it starts."""
    if since is not None and until is not None and until <= since:
        raise BadParameter(until_name, "must be after the start of the range")


def acknowledged(raw: str | None) -> bool | None:
    """`yes`, `no`, or empty/`any` for either."""
    value = (raw or "").strip().lower()
    if value in ("", "any"):
        return None
    if value in ("yes", "no"):
        return value == "yes"
    raise BadParameter("acknowledged", "must be yes, no or any")
