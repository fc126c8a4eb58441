"""A practice's own settings and their rules, used by the command line and the practice portal alike.

Greeting, menu, languages, maximum wait, agent instructions, business hours, holidays and on-call
shifts. Each function takes a session and plain values, changes the practice in that session and
commits nothing; input a practice cannot have raises SettingsError, whose message says why.
`change_settings` and `change_hours` also keep the change (`PracticeChange`: who, when, and each
field before and after), as the schedule's rotations do (callcenter/schedule.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time

from sqlalchemy.orm import Session

from .accounts import AccountError, normalize_number
from .menu import DEFAULT_OPTIONS, offered
from .models import BusinessHours, Holiday, OnCallShift, Practice, PracticeChange

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # index = weekday, 0 = Monday
LANGUAGES = ("en", "es")  # English is always offered; Spanish is optional
MIN_MAX_WAIT, MAX_MAX_WAIT = 60, 3600  # seconds a caller may be held before being offered a message


class SettingsError(AccountError):
    """Settings a practice cannot have; the message says why."""


def get_practice(session: Session, practice_id: int) -> Practice:
    """The practice with this id, or SettingsError."""
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise SettingsError(f"no practice with id {practice_id}")
    return practice


def _items(value: str | Iterable[str]) -> list[str]:
    """A comma-separated string or a list of strings, trimmed, without empty items."""
    parts = value.split(",") if isinstance(value, str) else value
    return [part.strip() for part in parts if part.strip()]


def _text(value: str) -> str | None:
    """Trimmed text, or None when nothing is left (the default applies then)."""
    return value.strip() or None


def parse_menu_options(value: str | Iterable[str]) -> list[str]:
    """The menu options to offer, from e.g. "urgent,message,refill"; each must be a known option."""
    chosen = _items(value)
    unknown = set(chosen) - set(DEFAULT_OPTIONS)
    if unknown:
        raise SettingsError(f"unknown menu options: {', '.join(sorted(unknown))}")
    return chosen


def parse_languages(value: str | Iterable[str]) -> list[str]:
    """The languages to offer: "en" or "en,es" (English always, Spanish optionally)."""
    chosen = _items(value)
    if not chosen or set(chosen) - set(LANGUAGES) or "en" not in chosen:
        raise SettingsError("languages must be en or en,es")
    return chosen


def check_max_wait(seconds: int) -> int:
    """Seconds on hold before a caller is offered a message: from one minute to one hour."""
    if not MIN_MAX_WAIT <= seconds <= MAX_MAX_WAIT:
        raise SettingsError(f"the maximum wait must be between {MIN_MAX_WAIT} and {MAX_MAX_WAIT} seconds")
    return seconds


MAX_QUEUE_CAPACITY = 100_000


def check_queue_capacity(callers: int) -> int | None:
    """How many of the practice's callers may wait at once; 0 means as many as the service holds (None)."""
    if not 0 <= callers <= MAX_QUEUE_CAPACITY:
        raise SettingsError(f"the queue capacity must be between 1 and {MAX_QUEUE_CAPACITY:,} callers "
                            "(0: as many as the service holds)")
    return callers or None


def configure_practice(
    session: Session, practice_id: int, *, greeting: str | None = None,
    options: str | Iterable[str] | None = None, languages: str | Iterable[str] | None = None,
    max_wait: int | None = None, instructions: str | None = None, queue_capacity: int | None = None,
    sms_names_practice: bool | None = None, recording_retention_days: int | None = None,
    records_calls: bool | None = None, digest_at: str | None = None, digest_emails: str | None = None,
    emergency_number: str | None = None, survey: bool | None = None, page_minutes: str | None = None,
) -> Practice:
    """Change the settings given (None leaves one as it is); a blank greeting or instructions clears it.

    Everything is checked before anything changes.
    """
    practice = get_practice(session, practice_id)
    menu = parse_menu_options(options) if options is not None else None
    spoken = parse_languages(languages) if languages is not None else None
    wait = check_max_wait(max_wait) if max_wait is not None else None
    capacity = check_queue_capacity(queue_capacity) if queue_capacity is not None else None
    if recording_retention_days is not None and not 0 <= recording_retention_days <= 3650:
        raise SettingsError("the recording retention is 0 (keep them) to 3650 days")
    digest_time = parse_digest_time(digest_at) if digest_at is not None else None
    emails = parse_emails(digest_emails) if digest_emails is not None else None
    steps = parse_page_minutes(page_minutes) if page_minutes else None
    emergency = None
    if emergency_number:
        emergency = clinician_number(emergency_number, "the emergency line")
    if greeting is not None:
        practice.greeting = _text(greeting)
    if menu is not None:
        practice.menu_options = menu
    if spoken is not None:
        practice.languages = spoken
    if wait is not None:
        practice.max_wait_seconds = wait
    if instructions is not None:
        practice.instructions = _text(instructions)
    if queue_capacity is not None:
        practice.queue_capacity = capacity
    if sms_names_practice is not None:
        practice.sms_names_practice = bool(sms_names_practice)
    if recording_retention_days is not None:
        practice.recording_retention_days = recording_retention_days or None
    if records_calls is not None:
        practice.records_calls = bool(records_calls)
    if digest_time is not None:
        practice.digest_at = digest_time
    if emails is not None:
        practice.digest_emails = ", ".join(emails) or None
    if emergency_number is not None:
        practice.emergency_number = emergency  # empty: none
    if survey is not None:
        practice.survey_enabled = bool(survey)
    if page_minutes is not None:
        practice.page_minutes = steps  # empty: the service's own
    return practice


def parse_page_minutes(value: str) -> str:
    """An unacknowledged page's three delays in minutes, "5,5,5": to the call-down, then to the backup,
    then to the supervisors; each 1 to 60."""
    try:
        minutes = [int(part) for part in value.split(",")]
    except ValueError:
        minutes = []
    if len(minutes) != 3 or not all(1 <= m <= 60 for m in minutes):
        raise SettingsError("the page delays are three numbers of minutes, 1 to 60 each: call-down, backup, "
                            f"supervisors, e.g. 5,5,5 (not {value!r})")
    return ",".join(str(m) for m in minutes)


def parse_digest_time(value: str) -> time:
    """When the daily digest is made, "HH:MM" in the practice's own time."""
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        raise SettingsError(f"the digest time is HH:MM in the practice's time, e.g. 07:30 (not {value!r})") from None


_EMAIL = re.compile(r"^[^@\s,]{1,64}@[^@\s,]{1,190}\.[^@\s,.]{2,}$")


def parse_emails(value: str) -> list[str]:
    """Comma-separated email addresses (an empty value: none, the digest stays in the portal)."""
    found = [a.strip() for a in value.split(",") if a.strip()]
    wrong = [a for a in found if not _EMAIL.match(a)]
    if wrong:
        raise SettingsError(f"not an email address: {wrong[0][:80]!r}")
    if len(found) > 10:
        raise SettingsError("at most 10 addresses")
    return found


def parse_opening_period(period: str) -> list[tuple[int, time, time]]:
    """(weekday, opens, closes) for each day of "DAYS=HH:MM-HH:MM", e.g. "mon-fri=08:00-17:00" or "sat=09:00-12:00"
    ("24:00" closes at midnight).

    Times are in the practice's own timezone; a period closes after it opens, on the same day.
    """
    try:
        spec, _, span = period.partition("=")
        first, _, last = spec.lower().partition("-")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        opening, closing = span.split("-")
        opens = time.fromisoformat(opening)
        closes = time.max if closing.strip() == "24:00" else time.fromisoformat(closing)  # open until midnight
        if closes <= opens:
            raise ValueError("closing time must be after opening time")
    except ValueError as exc:
        raise SettingsError(f"could not read the hours: {exc}") from exc
    return [(day, opens, closes) for day in range(start, end + 1)]


def parse_holiday(day: str) -> date:
    """A closed date, "YYYY-MM-DD"."""
    try:
        return date.fromisoformat(day)
    except ValueError as exc:
        raise SettingsError(f"could not read the hours: {exc}") from exc


def set_business_hours(session: Session, practice_id: int, periods: Iterable[str],
                       holidays: Iterable[str] = ()) -> Practice:
    """Replace the practice's opening periods with `periods` and add `holidays` to its closed dates."""
    practice = get_practice(session, practice_id)
    rows = [BusinessHours(weekday=day, opens=opens, closes=closes)
            for period in periods for day, opens, closes in parse_opening_period(period)]
    closed = [Holiday(day=parse_holiday(day)) for day in holidays]
    practice.hours = rows
    practice.holidays.extend(closed)
    return practice


def _instant(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def parse_shift(starts: str | datetime, ends: str | datetime) -> tuple[datetime, datetime]:
    """A shift's start and end: ISO 8601 with the UTC offset, e.g. 2026-12-01T17:00-05:00; it ends after it starts."""
    try:
        start, end = _instant(starts), _instant(ends)
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("give times with their UTC offset")
        if end <= start:
            raise ValueError("the shift must end after it starts")
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
    return start, end


def clinician_number(number: str | None, what: str = "the clinician's number") -> str | None:
    """A clinician's phone as E.164 (None when none is given); SettingsError saying which number is wrong."""
    if not number:
        return None
    try:
        found = normalize_number(number)
    except AccountError as exc:
        raise SettingsError(f"{what}: {exc}") from exc
    return north_american(found, what)


def north_american(number: str, what: str) -> str:
    """The service dials patients' clinicians in the US and Canada only: a number elsewhere (premium
    international lines included) is refused, so that no setting can make the service's Twilio account dial
    abroad."""
    if not number.startswith("+1") or len(number) != 12:
        raise SettingsError(f"{what}: only US and Canadian numbers (+1 and ten digits) can be dialled")
    return number


def on_call_people(name: str, number: str, backup_name: str | None,
                   backup_number: str | None) -> tuple[str, str, str | None, str | None]:
    """Who is on call and who backs them up, checked: (name, number, backup's name, backup's number)."""
    if not (name or "").strip():
        raise SettingsError("the clinician's name is missing")
    primary = clinician_number(number) or ""
    if not primary:
        raise SettingsError("the clinician's number is missing")
    backup = clinician_number(backup_number, "the backup's number")
    if backup and not (backup_name or "").strip():
        raise SettingsError("give the backup's name with their number")
    if backup == primary:
        raise SettingsError("the backup must be someone else")
    return name.strip(), primary, (backup_name or "").strip() or None if backup else None, backup


def add_on_call_shift(session: Session, practice_id: int, name: str, number: str, starts: str | datetime,
                      ends: str | datetime, backup_name: str | None = None,
                      backup_number: str | None = None) -> OnCallShift:
    """Add a shift (an override: it comes before any rotation's at the same time): between `starts` and
    `ends` the practice's urgent after-hours calls go to `number`, and to the backup when they do not answer."""
    get_practice(session, practice_id)
    start, end = parse_shift(starts, ends)
    name, e164, backup_name, backup = on_call_people(name, number, backup_name, backup_number)
    shift = OnCallShift(practice_id=practice_id, clinician_name=name, number=e164, starts_at=start, ends_at=end,
                        backup_name=backup_name, backup_number=backup)
    session.add(shift)
    session.flush()
    return shift


# Changes, kept with who made them --------------------------------------------------------------------------

SETTINGS_FIELDS = ("greeting", "instructions", "menu_options", "languages", "max_wait_seconds", "queue_capacity",
                   "sms_names_practice", "recording_retention_days", "records_calls", "digest_at", "digest_emails",
                   "emergency_number", "survey_enabled", "page_minutes")


def _plain(value):
    """A setting's value as JSON keeps it: times as HH:MM."""
    return value.strftime("%H:%M") if isinstance(value, time) else value


def values_of(practice: Practice, fields: Iterable[str] = SETTINGS_FIELDS) -> dict:
    """The settings as they take effect: the menu as offered (in menu order) and the languages offered, so
    that a default written out in full (every option ticked) is no change."""
    effective = {"menu_options": [o.reason for o in offered(practice.menu_options)],
                 "languages": list(practice.languages or LANGUAGES)}
    return {name: effective[name] if name in effective else _plain(getattr(practice, name)) for name in fields}


def record_change(session: Session, practice: Practice, what: str, before: dict, after: dict, by: str,
                  user_id: int | None = None) -> PracticeChange | None:
    """Keep what changed (each field before and after), or nothing when nothing did."""
    changes = {name: [before.get(name), after.get(name)] for name in {**before, **after}
               if before.get(name) != after.get(name)}
    if not changes:
        return None
    row = PracticeChange(practice_id=practice.id, user_id=user_id, by=by[:200], what=what, changes=changes)
    session.add(row)
    return row


def change_settings(session: Session, practice_id: int, *, by: str, user_id: int | None = None,
                    **settings) -> tuple[Practice, PracticeChange | None]:
    """`configure_practice`, kept as a change by `by` (the portal's admin, or the command line)."""
    practice = get_practice(session, practice_id)
    before = values_of(practice)
    configure_practice(session, practice_id, **settings)
    return practice, record_change(session, practice, "settings", before, values_of(practice), by, user_id)


def hours_of(practice: Practice) -> dict:
    """The practice's opening periods by day ("mon": "08:00-12:00, 13:00-17:00"; "" closed) and its closed dates
    ("holidays": ["2026-12-25"])."""
    days = {day: [] for day in WEEKDAYS}
    for row in sorted(practice.hours, key=lambda h: (h.weekday, h.opens)):
        closes = "24:00" if row.closes >= time(23, 59, 59) else f"{row.closes:%H:%M}"  # open until midnight
        days[WEEKDAYS[row.weekday]].append(f"{row.opens:%H:%M}-{closes}")
    return {**{day: ", ".join(spans) for day, spans in days.items()},
            "holidays": sorted(h.day.isoformat() for h in practice.holidays)}


def parse_week(days: dict[str, str]) -> list[str]:
    """Opening periods ("mon=08:00-12:00") from each day's "HH:MM-HH:MM, HH:MM-HH:MM" (blank: closed)."""
    periods = []
    for day in WEEKDAYS:
        for span in (days.get(day) or "").replace(";", ",").split(","):
            span = span.strip().replace(" ", "").replace("–", "-")
            if not span:
                continue
            try:
                parse_opening_period(f"{day}={span}")
            except SettingsError as exc:
                raise SettingsError(f"{DAY_NAMES[WEEKDAYS.index(day)]}: {span!r} is not HH:MM-HH:MM, closing "
                                    "after opening (for example 08:00-17:00)") from exc
            periods.append(f"{day}={span}")
    return periods


DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def change_hours(session: Session, practice_id: int, periods: Iterable[str], *, add_holidays: Iterable[str] = (),
                 remove_holidays: Iterable[str] = (), by: str, user_id: int | None = None
                 ) -> tuple[Practice, PracticeChange | None]:
    """Replace the opening periods, add and remove closed dates; kept as a change by `by`."""
    practice = get_practice(session, practice_id)
    before = hours_of(practice)
    gone = {parse_holiday(day) for day in remove_holidays}
    known = {h.day for h in practice.holidays}
    fresh = sorted({parse_holiday(day) for day in add_holidays} - known - gone)
    set_business_hours(session, practice_id, list(periods), [day.isoformat() for day in fresh])
    practice.holidays = [h for h in practice.holidays if h.day not in gone]
    return practice, record_change(session, practice, "hours", before, hours_of(practice), by, user_id)
