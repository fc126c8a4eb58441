"""What the ledger says happened to the simulated calls, and the figures of the report.

Each call's category and wait come from `callcenter.figures` (docs/simulator.md), shared with the
practice dashboard: answered > on_call > voicemail > abandoned > other, first match wins.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.figures import CATEGORIES, CallRecord, chunks, mean, records_for, share
from callcenter.ledger import OWNED_OUTCOMES
from callcenter.models import Call, CallbackTask, Message, OnCallPage

from .clock import SimClock
from .erlang import prediction

THRESHOLDS = (15, 20)
TARGETS = {"15": 0.90, "20": 0.80}


def simulated_calls(session: Session, since: datetime, numbers: set[str]) -> list[Call]:
    rows = session.scalars(select(Call).where(Call.created_at >= since, Call.direction == "inbound")
                           .order_by(Call.id))
    return [c for c in rows if c.from_number in numbers]


def without_outcome(session: Session, since: datetime, numbers: set[str]) -> list[int]:
    session.rollback()  # a fresh view of what other processes committed
    return [c.id for c in simulated_calls(session, since, numbers) if c.outcome not in OWNED_OUTCOMES]


def pages_unacknowledged(session: Session, since: datetime, numbers: set[str]) -> list[int]:
    """The simulated calls whose pages a clinician may still acknowledge (sent, not yet with the
    supervisors, whom the simulator does not play): the drain waits for them."""
    session.rollback()
    ids = [c.id for c in simulated_calls(session, since, numbers)]
    acknowledged, open_pages = set(), set()
    for chunk in chunks(ids):
        for page in session.scalars(select(OnCallPage).where(OnCallPage.call_id.in_(chunk))):
            if page.acknowledged_at is not None:
                acknowledged.add(page.call_id)
            elif page.status in ("sent", "sending") and page.escalation_step < 3:
                open_pages.add(page.call_id)
    return sorted(open_pages - acknowledged)


def read_records(session: Session, since: datetime, numbers: set[str], clock: SimClock) -> list[CallRecord]:
    """Every simulated call with its events, placed on the simulated clock and categorised."""
    session.rollback()
    return records_for(session, simulated_calls(session, since, numbers), clock.sim_of)


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
    for chunk in chunks(ids):
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

    aht = mean(handles)
    arrivals_per_second = len(queued) / day_seconds if day_seconds else 0.0
    erlang = prediction(agents, arrivals_per_second, aht or 0.0) if aht else None
    service_level = {str(t): share(within[str(t)], len(queued)) for t in THRESHOLDS}
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
        "average_speed_of_answer": mean(waits),
        "wait_p90": _percentile(waits, 0.9),
        "longest_wait": max(waits) if waits else None,
        "abandoned": categories.get("abandoned", 0),
        "abandonment_rate": share(categories.get("abandoned", 0), offered),
        "abandoned_in_queue": sum(1 for r in queued if r.category == "abandoned"),
        "average_handle_time": aht,
        "average_talk_time": mean(talks),
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


def paging(session: Session, ids: list[int], speed: float) -> dict:
    """The urgent calls' pages: how many were acknowledged, how fast (simulated seconds from the first page
    of a call to its acknowledgement: median, 90th percentile, longest), how far they escalated, and how many
    were still unacknowledged at the end of the day (the goal is none)."""
    first: dict[int, OnCallPage] = {}
    acknowledged: dict[int, datetime] = {}
    steps = Counter()
    for chunk in chunks(ids):
        for page in session.scalars(select(OnCallPage).where(OnCallPage.call_id.in_(chunk)).order_by(OnCallPage.id)):
            first.setdefault(page.call_id, page)
            if page.acknowledged_at is not None:
                earlier = acknowledged.get(page.call_id, page.acknowledged_at)
                acknowledged[page.call_id] = min(page.acknowledged_at, earlier)
            if page.recipient == "backup":
                steps["backup"] += 1
            elif page.escalation_step >= 1 and page.to_number:
                steps["called_down"] += 1
            if page.escalation_step >= 3:
                steps["supervisors"] += 1
    times = sorted((acknowledged[call_id] - first[call_id].sent_at).total_seconds() * speed
                   for call_id in acknowledged)
    return {
        "paged_calls": len(first),
        "acknowledged": len(acknowledged),
        "unacknowledged": len(first) - len(acknowledged),
        "time_to_acknowledge_median": _percentile(times, 0.5),
        "time_to_acknowledge_p90": _percentile(times, 0.9),
        "time_to_acknowledge_longest": times[-1] if times else None,
        "escalations": {"called_down": steps["called_down"], "backup": steps["backup"],
                        "supervisors": steps["supervisors"]},
        "acknowledged_by": dict(Counter((p.acknowledged_by or "not acknowledged") for p in first.values())),
        "statuses": dict(Counter(p.status for p in first.values())),
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
        row["service_level_20"] = share(row["within_20"], row["queued"])
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
