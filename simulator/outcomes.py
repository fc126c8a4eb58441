"""What the ledger says happened to the simulated calls, and the figures of the report.

Each call falls in exactly one category, first match wins (docs/simulator.md):
answered (an agent was connected) > on_call (put through to the clinician, who answered) >
voicemail (a message was recorded) > abandoned (hung up before any of these) > other.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.ledger import OWNED_OUTCOMES
from callcenter.models import Call, CallbackTask, CallEvent, Message, OnCallPage

from .clock import SimClock
from .erlang import prediction

CATEGORIES = ("answered", "on_call", "voicemail", "abandoned", "other")
THRESHOLDS = (15, 20)
TARGETS = {"15": 0.90, "20": 0.80}
QUEUE_OPENS = {"queued", "requeued"}
QUEUE_CLOSES = {"taken", "abandoned", "left_queue", "queue_full"}
CHUNK = 500


@dataclass
class CallRecord:
    id: int
    from_number: str | None
    reason: str | None
    urgent: bool
    outcome: str | None
    created: float  # simulated seconds since the start of the day
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


def _chunks(ids: list[int]):
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def simulated_calls(session: Session, since: datetime, numbers: set[str]) -> list[Call]:
    rows = session.scalars(select(Call).where(Call.created_at >= since, Call.direction == "inbound")
                           .order_by(Call.id))
    return [c for c in rows if c.from_number in numbers]


def without_outcome(session: Session, since: datetime, numbers: set[str]) -> list[int]:
    session.rollback()  # a fresh view of what other processes committed
    return [c.id for c in simulated_calls(session, since, numbers) if c.outcome not in OWNED_OUTCOMES]


def read_records(session: Session, since: datetime, numbers: set[str], clock: SimClock) -> list[CallRecord]:
    """Every simulated call with its events, placed on the simulated clock and categorised."""
    session.rollback()
    calls = simulated_calls(session, since, numbers)
    records = {c.id: CallRecord(id=c.id, from_number=c.from_number, reason=c.reason, urgent=c.priority > 0,
                                outcome=c.outcome, created=clock.sim_of(c.created_at)) for c in calls}
    for ids in _chunks(list(records)):
        for event in session.scalars(select(CallEvent).where(CallEvent.call_id.in_(ids))
                                     .order_by(CallEvent.call_id, CallEvent.id)):
            _apply(records[event.call_id], event, clock)
    for record in records.values():
        record.category = _category(record)
    return list(records.values())


def _apply(record: CallRecord, event: CallEvent, clock: SimClock) -> None:
    at = clock.sim_of(event.at)
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


def _category(record: CallRecord) -> str:
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


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


def summarize(session: Session, records: list[CallRecord], *, agents: int, day_seconds: float) -> dict:
    """The report's figures: counts that add up, service levels, ASA, AHT, Erlang C, per-hour series."""
    ids = [r.id for r in records]
    categories = Counter(r.category for r in records)
    offered = len(records)
    queued = [r for r in records if r.queued is not None]
    answered = [r for r in records if r.category == "answered"]
    waits = [r.wait for r in answered if r.wait is not None]
    within = {str(t): sum(1 for r in queued if r.wait is not None and r.wait <= t) for t in THRESHOLDS}
    handles = [r.handle for r in answered if r.handle is not None]
    talks = [r.talk_seconds for r in answered if r.talk_seconds is not None]
    missing = [r.id for r in records if r.outcome not in OWNED_OUTCOMES]

    callbacks_done = callbacks_open = voicemails = voicemails_reviewed = pages = 0
    for chunk in _chunks(ids):
        for task in session.scalars(select(CallbackTask).where(CallbackTask.call_id.in_(chunk))):
            if task.status == "done":
                callbacks_done += 1
            else:
                callbacks_open += 1
        for message in session.scalars(select(Message).where(Message.call_id.in_(chunk),
                                                             Message.kind == "voicemail")):
            voicemails += 1
            voicemails_reviewed += 0 if message.needs_review else 1
        pages += len(list(session.scalars(select(OnCallPage.id).where(OnCallPage.call_id.in_(chunk)))))
    urgent_messages = len(list(session.scalars(select(Message.id).where(
        Message.call_id.in_(ids or [0]), Message.kind == "agent", Message.urgency == "urgent"))))

    aht = _mean(handles)
    arrivals_per_second = len(queued) / day_seconds if day_seconds else 0.0
    erlang = prediction(agents, arrivals_per_second, aht or 0.0) if aht else None
    service_level = {str(t): _share(within[str(t)], len(queued)) for t in THRESHOLDS}
    return {
        "offered": offered,
        "categories": {name: categories.get(name, 0) for name in CATEGORIES},
        "adds_up": offered == sum(categories.get(name, 0) for name in CATEGORIES),
        "queued": len(queued),
        "answered": len(answered),
        "answered_within": within,
        "service_level": service_level,
        "service_level_targets": {t: {"target": TARGETS[t], "met": (service_level[t] or 0) >= TARGETS[t]}
                                  for t in TARGETS},
        "average_speed_of_answer": _mean(waits),
        "wait_p90": _percentile(waits, 0.9),
        "longest_wait": max(waits) if waits else None,
        "abandoned": categories.get("abandoned", 0),
        "abandonment_rate": _share(categories.get("abandoned", 0), offered),
        "abandoned_in_queue": sum(1 for r in queued if r.category == "abandoned"),
        "average_handle_time": aht,
        "average_talk_time": _mean(talks),
        "callbacks_made": callbacks_done,
        "callbacks_open": callbacks_open,
        "voicemails": voicemails,
        "voicemails_reviewed": voicemails_reviewed,
        "urgent_pages": pages,
        "urgent_messages": urgent_messages,
        "outcomes": dict(Counter(r.outcome or "none" for r in records)),
        "without_owned_outcome": len(missing),
        "without_owned_outcome_ids": missing[:50],
        "erlang_c": erlang,
    }


def per_interval(records: list[CallRecord], day_seconds: float, width: float = 3600.0) -> list[dict]:
    """Arrivals, answers and service level per interval of the day (by when the caller arrived)."""
    count = max(1, math.ceil(day_seconds / width - 1e-9))
    rows = [{"start": i * width, "arrivals": 0, "answered": 0, "abandoned": 0, "within_20": 0, "queued": 0}
            for i in range(count)]
    for r in records:
        row = rows[min(count - 1, max(0, int(r.created // width)))]
        row["arrivals"] += 1
        row["answered"] += r.category == "answered"
        row["abandoned"] += r.category == "abandoned"
        if r.queued is not None:
            row["queued"] += 1
            row["within_20"] += r.wait is not None and r.wait <= 20
    for row in rows:
        row["service_level_20"] = _share(row["within_20"], row["queued"])
    return rows


def queue_length(records: list[CallRecord], end: float, points: int = 240) -> list[tuple[float, int]]:
    """How many callers were waiting, sampled over the simulated day, from the ledger's queue events."""
    spans = [(start, stop if stop is not None else end) for r in records for start, stop in r.queue_spans]
    if end <= 0:
        return []
    step = max(1.0, end / points)
    series, t = [], 0.0
    while t <= end + 1e-9:
        series.append((t, sum(1 for start, stop in spans if start <= t < stop)))
        t += step
    return series


def wait_histogram(records: list[CallRecord], width: float = 15.0, limit: float = 600.0) -> dict:
    """Waits of answered callers and time in queue of those who left, in bins of `width` seconds."""
    bins = int(limit // width) + 1  # the last bin holds everything from `limit` on
    answered, left = [0] * bins, [0] * bins
    for r in records:
        if r.queued is None:
            continue
        if r.wait is not None:
            answered[min(bins - 1, int(r.wait // width))] += 1
        elif r.time_in_queue is not None:
            left[min(bins - 1, int(r.time_in_queue // width))] += 1
    labels = [f"{int(i * width)}" for i in range(bins - 1)] + [f"{int(limit)}+"]
    return {"width": width, "labels": labels, "answered": answered, "left_queue": left}


def cross_check(records: list[CallRecord], seen: dict[str, str]) -> dict:
    """Compare what each caller experienced with the ledger's category for that call."""
    pairs = Counter()
    for r in records:
        pairs[(seen.get(r.from_number or "", "not_seen"), r.category)] += 1
    agree = sum(n for (a, b), n in pairs.items() if a == b)
    in_ledger = {r.from_number for r in records}
    return {
        "agree": agree,
        "disagree": sum(pairs.values()) - agree,
        "pairs": {f"{a}->{b}": n for (a, b), n in sorted(pairs.items()) if a != b},
        "callers_missing_from_ledger": sum(1 for number in seen if number not in in_ledger),
    }
