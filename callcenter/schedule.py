"""A practice's on-call schedule: recurring rotations, one-off overrides, a backup for each slot, and gaps.

A rotation is a weekly slot in the practice's own time ("mon-fri 17:00-08:00", "sat-sun 00:00-00:00").
`fill` turns each rotation into shifts for the days ahead (`on_call_shifts` rows with its `rotation_id`),
so that every reader of the schedule (the IVR's on-call path, paging, the console's screen-pop, the
consult) asks one question, `oncall.current_shift`, and gets one row; an override is a shift added by
hand, and where it overlaps a rotation's shift, the override is on call. Daylight saving is the
practice's clock's business: a slot from 17:00 to 08:00 is that, whatever the UTC offset.

`gaps` finds, for a stretch of time ahead, when the practice is closed and nobody is on call: a patient
with an urgent problem then reaches no clinician. The worker tells the supervisors of a gap in the next
day, and the portal shows the practice its schedule and its gaps for the week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .hours import practice_is_open
from .models import OffDuty, OnCallPage, OnCallRotation, OnCallShift, Practice
from .practice_settings import (
    WEEKDAYS,
    SettingsError,
    clinician_number,
    get_practice,
    on_call_people,
    parse_shift,
    record_change,
)

FILL_DAYS = 14  # rotations are turned into shifts this far ahead
SHORTEST_GAP = timedelta(minutes=1)  # a practice "open until 23:59:59" leaves no gap before midnight


@dataclass(frozen=True)
class Gap:
    starts_at: datetime
    ends_at: datetime


def parse_days(days: str) -> list[int]:
    """Weekdays from "mon-fri", "sat,sun", "mon-sun" or "fri-mon" (0 = Monday)."""
    found: list[int] = []
    try:
        for part in days.lower().replace(" ", "").split(","):
            first, _, last = part.partition("-")
            start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
            span = (end - start) % 7
            found += [(start + n) % 7 for n in range(span + 1)]
    except ValueError:
        raise SettingsError(f"could not read the days {days!r}: use mon-fri, sat,sun or the like") from None
    return sorted(set(found))


def parse_slot(hours: str) -> tuple[time, time]:
    """"17:00-08:00" (past midnight into the next day), "08:00-17:00", or "00:00-00:00" for a whole day."""
    try:
        starts, ends = (time.fromisoformat(t.strip()) for t in hours.split("-"))
    except ValueError:
        raise SettingsError(f"could not read the hours {hours!r}: use HH:MM-HH:MM, e.g. 17:00-08:00") from None
    return starts, ends


def rotation_words(rotation: OnCallRotation, numbers: bool = True) -> str:
    """A rotation as people read it: "Dr. Rivera (+16175550199), Mon, Tue 17:00-08:00, backup Dr. Chen (+1…)";
    without the clinicians' numbers for those who need only the names."""
    def who(name: str | None, number: str | None) -> str:
        return f"{name} ({number})" if numbers else f"{name}"

    days = ", ".join(WEEKDAYS[d].capitalize() for d in sorted(rotation.weekdays))
    backup = f", backup {who(rotation.backup_name, rotation.backup_number)}" if rotation.backup_number else ""
    hours = f"{rotation.starts:%H:%M}-{rotation.ends:%H:%M}"
    return f"{who(rotation.clinician_name, rotation.number)}, {days} {hours}{backup}"


def add_rotation(session: Session, practice_id: int, name: str, number: str, days: str, hours: str, *,
                 backup_name: str | None = None, backup_number: str | None = None,
                 now: datetime | None = None, by: str = "command line", user_id: int | None = None) -> OnCallRotation:
    """A weekly on-call slot, with its shifts for the days ahead filled in. Checked before anything changes;
    kept as a change of the practice's by `by`."""
    practice = get_practice(session, practice_id)
    weekdays, (starts, ends) = parse_days(days), parse_slot(hours)
    name, primary, backup_name, backup = on_call_people(name, number, backup_name, backup_number)
    rotation = OnCallRotation(practice_id=practice.id, clinician_name=name, number=primary, backup_name=backup_name,
                              backup_number=backup, weekdays=weekdays, starts=starts, ends=ends)
    session.add(rotation)
    session.flush()
    fill(session, practice, now or datetime.now(ZoneInfo("UTC")))
    record_change(session, practice, "on_call", {}, {f"rotation {rotation.id}": rotation_words(rotation)}, by, user_id)
    return rotation


def remove_rotation(session: Session, rotation_id: int, now: datetime, *, practice_id: int | None = None,
                    by: str = "command line", user_id: int | None = None) -> None:
    """The rotation ends now: its shifts still to come go; those that began stay (pages name them).
    With `practice_id`, only that practice's rotation (another's is as missing as one that never was)."""
    rotation = session.get(OnCallRotation, rotation_id)
    if rotation is None or (practice_id is not None and rotation.practice_id != practice_id):
        raise SettingsError(f"no rotation with id {rotation_id}")
    record_change(session, get_practice(session, rotation.practice_id), "on_call",
                  {f"rotation {rotation.id}": rotation_words(rotation)}, {}, by, user_id)
    session.execute(delete(OnCallShift).where(OnCallShift.rotation_id == rotation.id, OnCallShift.starts_at > now))
    session.execute(update(OnCallShift).where(OnCallShift.rotation_id == rotation.id).values(rotation_id=None))
    session.delete(rotation)


def _slots(rotation: OnCallRotation, tz: ZoneInfo, first: date, last: date):
    """The rotation's slots that start on the days from `first` to `last`, as UTC instants."""
    day = first
    while day <= last:
        if day.weekday() in rotation.weekdays:
            starts = datetime.combine(day, rotation.starts, tz)
            end_day = day if rotation.ends > rotation.starts else day + timedelta(days=1)
            yield starts.astimezone(ZoneInfo("UTC")), datetime.combine(end_day, rotation.ends, tz).astimezone(
                ZoneInfo("UTC"))
        day += timedelta(days=1)


def fill(session: Session, practice: Practice, now: datetime, days: int = FILL_DAYS) -> int:
    """Turn the practice's rotations into shifts from yesterday to `days` ahead; how many were added."""
    tz = ZoneInfo(practice.timezone)
    today = now.astimezone(tz).date()
    added = 0
    for rotation in session.scalars(select(OnCallRotation).where(OnCallRotation.practice_id == practice.id)):
        have = set(session.scalars(select(OnCallShift.starts_at).where(OnCallShift.rotation_id == rotation.id,
                                                                       OnCallShift.starts_at >= now - timedelta(
                                                                           days=2))))
        for starts, ends in _slots(rotation, tz, today - timedelta(days=1), today + timedelta(days=days)):
            if starts in have or ends <= now:
                continue
            session.add(OnCallShift(practice_id=practice.id, clinician_name=rotation.clinician_name,
                                    number=rotation.number, backup_name=rotation.backup_name,
                                    backup_number=rotation.backup_number, starts_at=starts, ends_at=ends,
                                    rotation_id=rotation.id))
            added += 1
    session.flush()
    return added


def fill_all(session: Session, now: datetime) -> int:
    """Every practice's rotations, turned into shifts for the days ahead (the worker, once an hour)."""
    return sum(fill(session, practice, now) for practice in session.scalars(select(Practice)))


def shifts(session: Session, practice_id: int, start: datetime, end: datetime) -> list[OnCallShift]:
    """The shifts that overlap `start` to `end`, in order."""
    return list(session.scalars(select(OnCallShift).where(
        OnCallShift.practice_id == practice_id, OnCallShift.starts_at < end, OnCallShift.ends_at > start)
        .order_by(OnCallShift.starts_at, OnCallShift.id)))


def _boundaries(practice: Practice, tz: ZoneInfo, start: datetime, end: datetime) -> set[datetime]:
    """The instants at which the practice opens or closes (and each local midnight, for holidays)."""
    found = set()
    day = start.astimezone(tz).date() - timedelta(days=1)
    while day <= end.astimezone(tz).date():
        found.add(datetime.combine(day, time.min, tz))
        for hours in practice.hours:
            if hours.weekday == day.weekday():
                found.add(datetime.combine(day, hours.opens, tz))
                found.add(datetime.combine(day, hours.closes, tz))
        day += timedelta(days=1)
    return {moment.astimezone(ZoneInfo("UTC")) for moment in found}


def gaps(session: Session, practice: Practice, start: datetime, end: datetime) -> list[Gap]:
    """When the practice is closed and nobody is on call, between `start` and `end`."""
    tz = ZoneInfo(practice.timezone)
    covering = shifts(session, practice.id, start, end)
    moments = {start, end} | {s.starts_at for s in covering} | {s.ends_at for s in covering}
    moments |= _boundaries(practice, tz, start, end)
    ordered = sorted(m for m in moments if start <= m <= end)
    found: list[Gap] = []
    for a, b in zip(ordered, ordered[1:], strict=False):
        middle = a + (b - a) / 2
        if practice_is_open(practice, middle) or any(s.starts_at <= middle < s.ends_at for s in covering):
            continue
        if found and found[-1].ends_at == a:
            found[-1] = Gap(found[-1].starts_at, b)
        else:
            found.append(Gap(a, b))
    return [gap for gap in found if gap.ends_at - gap.starts_at >= SHORTEST_GAP]


def overlaps(session: Session, practice_id: int, start: datetime, end: datetime) -> list[tuple[OnCallShift,
                                                                                               OnCallShift]]:
    """Two shifts of the same kind (two rotations', or two overrides) that cover the same time: which
    clinician is on call then is a guess (the later-starting one is). An override over a rotation is no
    overlap: that is what an override is for."""
    found = []
    covering = shifts(session, practice_id, start, end)
    for i, first in enumerate(covering):
        for second in covering[i + 1:]:
            if second.starts_at >= first.ends_at:
                break
            if (first.rotation_id is None) == (second.rotation_id is None) and first.number != second.number:
                found.append((first, second))
    return found


def mark_off_duty(session: Session, practice_id: int, name: str, number: str, starts: str | datetime,
                  ends: str | datetime) -> OffDuty:
    """A clinician is not available from `starts` to `ends` (a vacation, sick leave): any shift of theirs
    then is a conflict, shown ahead of time."""
    get_practice(session, practice_id)
    start, end = parse_shift(starts, ends)
    e164 = clinician_number(number)
    if not e164:
        raise SettingsError("the clinician's number is missing")
    off = OffDuty(practice_id=practice_id, clinician_name=(name or "").strip() or "a clinician", number=e164,
                  starts_at=start, ends_at=end)
    session.add(off)
    session.flush()
    return off


def conflicts(session: Session, practice_id: int, start: datetime, end: datetime) -> list[tuple[OnCallShift, OffDuty]]:
    """Shifts (their own or as backup) of clinicians marked off duty at the time."""
    found = []
    offs = list(session.scalars(select(OffDuty).where(OffDuty.practice_id == practice_id, OffDuty.starts_at < end,
                                                      OffDuty.ends_at > start)))
    for shift in shifts(session, practice_id, start, end) if offs else []:
        for off in offs:
            if off.number in (shift.number, shift.backup_number) and off.starts_at < shift.ends_at \
                    and off.ends_at > shift.starts_at:
                found.append((shift, off))
    return found


def backup_of(session: Session, page: OnCallPage) -> tuple[str, str] | None:
    """The backup (name, number) of the shift a page went out under, if it has one."""
    shift = session.get(OnCallShift, page.shift_id) if page.shift_id is not None else None
    if shift is None or not shift.backup_number:
        return None
    return shift.backup_name or "the backup clinician", shift.backup_number
