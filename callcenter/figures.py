"""What the ledger says happened to each call, in the terms the service is measured by.

Each call falls in exactly one category, first match wins: answered (an agent was connected) >
on_call (put through to the clinician, who answered) > voicemail (a message was recorded) >
abandoned (hung up before any of these) > other. A call's wait is from its first `queued` event to
its first `connected` one. The practice dashboard (portal) and the simulator's report (simulator)
both read calls through here, so their service level, answer speed and abandonment agree.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Call, CallbackTask, CallEvent, Message

CATEGORIES = ("answered", "on_call", "voicemail", "abandoned", "other")
QUEUE_OPENS = {"queued", "requeued"}
QUEUE_CLOSES = {"taken", "abandoned", "left_queue", "queue_full"}
CHUNK = 500
Seconds = Callable[[datetime | None], float | None]  # a moment, as seconds on the report's own clock


@dataclass
class CallRecord:
    id: int
    from_number: str | None
    reason: str | None
    urgent: bool
    outcome: str | None
    created: float  # seconds on the report's clock (since the start of its day)
    queued: float | None = None
    answered: float | None = None
    wrapped: float | None = None
    talk_seconds: float | None = None  # the emulator's DialCallDuration (already simulated seconds)
    left_queue: float | None = None  # first time the caller left the queue without an agent
    category: str = "other"
    kinds: list[str] = field(default_factory=list)
    queue_spans: list[tuple[float, float | None]] = field(default_factory=list)

    @property
    def wait(self) -> float | None:
        if self.queued is None or self.answered is None:
            return None
        return max(0.0, self.answered - self.queued)

    @property
    def time_in_queue(self) -> float | None:
        if self.queued is None:
            return None
        end = self.answered if self.answered is not None else self.left_queue
        return None if end is None else max(0.0, end - self.queued)

    @property
    def handle(self) -> float | None:
        if self.answered is None or self.wrapped is None:
            return None
        return max(0.0, self.wrapped - self.answered)


def chunks(ids: list[int]):
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def records_for(session: Session, calls: Iterable[Call], seconds: Seconds) -> list[CallRecord]:
    """Each call with its events, placed on the report's clock (`seconds`) and categorised."""
    records = {c.id: CallRecord(id=c.id, from_number=c.from_number, reason=c.reason, urgent=c.priority > 0,
                                outcome=c.outcome, created=seconds(c.created_at)) for c in calls}
    for ids in chunks(list(records)):
        for event in session.scalars(select(CallEvent).where(CallEvent.call_id.in_(ids))
                                     .order_by(CallEvent.call_id, CallEvent.id)):
            apply_event(records[event.call_id], event, seconds)
    for record in records.values():
        record.category = category(record)
    return list(records.values())


def apply_event(record: CallRecord, event: CallEvent, seconds: Seconds) -> None:
    at = seconds(event.at)
    kind = event.kind
    record.kinds.append(kind)
    if kind == "queued" and record.queued is None:
        record.queued = at
    if kind in QUEUE_OPENS:
        if not record.queue_spans or record.queue_spans[-1][1] is not None:
            record.queue_spans.append((at, None))
    elif kind in QUEUE_CLOSES and record.queue_spans and record.queue_spans[-1][1] is None:
        record.queue_spans[-1] = (record.queue_spans[-1][0], at)
    if kind == "connected" and record.answered is None:
        record.answered = at
    elif kind == "wrapped_up" and record.wrapped is None:
        record.wrapped = at
    elif kind in ("abandoned", "left_queue") and record.left_queue is None and record.answered is None:
        record.left_queue = at
    elif kind == "dial_finished" and record.talk_seconds is None:
        duration = (event.data or {}).get("duration")
        if isinstance(duration, int | float) and (event.data or {}).get("status") in ("completed", "answered"):
            record.talk_seconds = float(duration)
    elif kind == "on_call_finished" and (event.data or {}).get("status") in ("completed", "answered"):
        record.kinds.append("on_call_answered")


def category(record: CallRecord) -> str:
    kinds = set(record.kinds)
    if "connected" in kinds:
        return "answered"
    if "on_call_answered" in kinds or record.outcome == "oncall":
        return "on_call"
    if "voicemail" in kinds:
        return "voicemail"
    if "abandoned" in kinds:
        return "abandoned"
    return "other"


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


SERVICE_LEVEL_SECONDS = 15  # answered within this long of joining the queue
SERVICE_LEVEL_TARGET = 0.90


def practice_day(session: Session, practice_id: int, start: datetime, end: datetime, tz: tzinfo | None = None) -> dict:
    """One practice's day (`start` to `end`): the figures the simulator's report uses, by the same rules,
    and the same figures for each hour: hours of the clock in `tz` (24 of them, whatever daylight saving
    does to the day's length), or hours since `start` without one."""
    return day(session, start, end, tz, practice_id=practice_id)


def day(session: Session, start: datetime, end: datetime, tz: tzinfo | None = None, *,
        practice_id: int | None = None) -> dict:
    """`practice_day` for one practice, or (`practice_id` None) for every practice: the supervisors' floor.

    Each hour also has its service level and the most callers waiting at once in it (from the queue's
    spans in the ledger; a caller still waiting at `end` counts to `end`)."""
    where = [Call.direction == "inbound", Call.created_at >= start, Call.created_at < end]
    if practice_id is not None:
        where.append(Call.practice_id == practice_id)
    calls = session.scalars(select(Call).where(*where)).all()
    records = records_for(session, calls, lambda moment: None if moment is None else (moment - start).total_seconds())
    queued = [r for r in records if r.queued is not None]
    answered = [r for r in records if r.category == "answered"]
    waits = [r.wait for r in answered if r.wait is not None]
    within = sum(1 for r in queued if r.wait is not None and r.wait <= SERVICE_LEVEL_SECONDS)
    abandoned = sum(1 for r in records if r.category == "abandoned")
    message_where = [Message.created_at >= start, Message.created_at < end]
    callback_where = [CallbackTask.status != "done", CallbackTask.created_at >= start, CallbackTask.created_at < end]
    if practice_id is not None:
        message_where.append(Message.practice_id == practice_id)
        callback_where.append(CallbackTask.practice_id == practice_id)
    messages = session.scalars(select(Message).where(*message_where)).all()
    acknowledge_times = [(m.acknowledged_at - m.created_at).total_seconds() for m in messages if m.acknowledged_at]
    hours = 24 if tz is not None else max(1, round((end - start).total_seconds() / 3600))

    def hour_of(seconds: float) -> int:
        if tz is not None:
            hour = (start + timedelta(seconds=seconds)).astimezone(tz).hour
        else:
            hour = int(seconds // 3600)
        return min(hours - 1, max(0, hour))

    by_hour = [{"hour": h, "arrivals": 0, "answered": 0, "abandoned": 0, "queued": 0, "within": 0,
                "service_level": None, "peak_waiting": 0} for h in range(hours)]
    for r in records:
        row = by_hour[hour_of(r.created)]
        row["arrivals"] += 1
        row["answered"] += r.category == "answered"
        row["abandoned"] += r.category == "abandoned"
        if r.queued is not None:
            queued_row = by_hour[hour_of(r.queued)]
            queued_row["queued"] += 1
            queued_row["within"] += r.wait is not None and r.wait <= SERVICE_LEVEL_SECONDS
    for row in by_hour:
        row["service_level"] = share(row.pop("within"), row["queued"])
    span = (end - start).total_seconds()
    changes = waiting_through(records, span)
    moments = [at for at, _ in changes]
    # Each change, and every five minutes (a caller can wait through an hour in which nothing changed).
    samples = changes + [(t, changes[i - 1][1] if (i := bisect.bisect_right(moments, t)) else 0)
                         for t in range(0, int(span), 300)]
    for seconds, waiting in samples:
        row = by_hour[hour_of(seconds)]
        row["peak_waiting"] = max(row["peak_waiting"], waiting)
    return {
        "offered": len(records),
        "categories": {name: sum(1 for r in records if r.category == name) for name in CATEGORIES},
        "answered": len(answered),
        "queued": len(queued),
        "service_level": share(within, len(queued)),
        "service_level_seconds": SERVICE_LEVEL_SECONDS,
        "service_level_target": SERVICE_LEVEL_TARGET,
        "average_speed_of_answer": mean(waits),
        "longest_wait": max(waits) if waits else None,
        "abandoned": abandoned,
        "abandonment_rate": share(abandoned, len(records)),
        # Of this day's calls: those whose callback is still owed (a past day shows what is left of it).
        "callbacks_owed": session.scalar(select(func.count(CallbackTask.id)).where(*callback_where)) or 0,
        "messages": len(messages),
        "urgent_messages": sum(1 for m in messages if m.urgency == "urgent"),
        "not_acknowledged": sum(1 for m in messages if m.acknowledged_at is None),
        "average_time_to_acknowledge": mean(acknowledge_times),
        "by_hour": by_hour,
    }


def waiting_through(records: list[CallRecord], until: float) -> list[tuple[float, int]]:
    """How many callers waited at once, at each moment that changed it (seconds on the report's clock):
    each queue span counts from its start to its end (or the agent's answer, if the span's end is not in
    the ledger), or to `until` while it is still open."""
    changes: list[tuple[float, int]] = []
    for r in records:
        for opened, closed in r.queue_spans:
            if opened is None or opened >= until:
                continue
            if closed is None and r.answered is not None and r.answered >= opened:
                closed = r.answered
            changes.append((opened, 1))
            changes.append((min(closed, until) if closed is not None else until, -1))
    changes.sort(key=lambda c: (c[0], c[1]))  # a caller who leaves as another joins is not counted twice
    waiting, counts = 0, []
    for at, step in changes:
        waiting += step
        counts.append((at, waiting))
    return counts
