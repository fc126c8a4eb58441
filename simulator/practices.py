"""Settings the run changes on the practices it calls, and puts back afterwards.

The app's own timers run on the real clock; an accelerated day shortens the practices' maximum wait
by the same factor so that a caller still leaves the queue after the same simulated time. With
`open_hours`, the practices answer around the clock for the run, so the day is played whatever the
real time of day is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import ledger
from callcenter.models import BusinessHours, OnCallShift, Practice, PracticeNumber

MIN_MAX_WAIT = 5  # real seconds: the hold loop looks at the maximum wait about once a simulated minute


@dataclass
class PracticeTarget:
    id: int
    name: str
    numbers: list[str]


def targets(session: Session, numbers: list[str] | None = None) -> list[PracticeTarget]:
    """The practices to call: those owning `numbers`, or every practice with a number."""
    rows = session.scalars(select(PracticeNumber).order_by(PracticeNumber.id))
    by_practice: dict[int, PracticeTarget] = {}
    for row in rows:
        if numbers and row.number not in numbers:
            continue
        target = by_practice.setdefault(row.practice_id, PracticeTarget(row.practice_id, row.practice.name, []))
        target.numbers.append(row.number)
    return list(by_practice.values())


def on_call_numbers(session: Session, practice_ids: list[int]) -> list[str]:
    """Clinicians' numbers on shift now for these practices (the simulator answers those phones)."""
    now = ledger.now()
    rows = session.scalars(select(OnCallShift).where(OnCallShift.practice_id.in_(practice_ids or [0]),
                                                     OnCallShift.starts_at <= now, OnCallShift.ends_at > now))
    return sorted({row.number for row in rows})


class TemporarySettings:
    """Apply the run's maximum wait (and opening hours) to the practices; `restore()` puts them back."""

    def __init__(self, session: Session, practice_ids: list[int]):
        self.session = session
        self.practice_ids = practice_ids
        self.saved: dict[int, dict] = {}

    def apply(self, max_wait_seconds, open_hours: bool) -> dict[int, int]:
        """`max_wait_seconds(practice)` gives the real seconds to set; return them by practice id."""
        applied = {}
        for practice in self.session.scalars(select(Practice).where(Practice.id.in_(self.practice_ids))):
            self.saved[practice.id] = {
                "max_wait_seconds": practice.max_wait_seconds,
                "hours": [(h.weekday, h.opens, h.closes) for h in practice.hours] if open_hours else None,
            }
            practice.max_wait_seconds = max(MIN_MAX_WAIT, round(max_wait_seconds(practice)))
            if open_hours:
                practice.hours = [BusinessHours(weekday=d, opens=time(0, 0), closes=time.max) for d in range(7)]
            applied[practice.id] = practice.max_wait_seconds
        self.session.commit()
        return applied

    def restore(self) -> None:
        self.session.rollback()
        for practice_id, saved in self.saved.items():
            practice = self.session.get(Practice, practice_id)
            if practice is None:
                continue
            practice.max_wait_seconds = saved["max_wait_seconds"]
            if saved["hours"] is not None:
                practice.hours = [BusinessHours(weekday=d, opens=o, closes=c) for d, o, c in saved["hours"]]
        self.session.commit()
        self.saved = {}
