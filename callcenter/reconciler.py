"""Finds drift between Redis and the ledger and calls without an owned outcome, and mends what it can."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import ledger
from .calls import rebuild_queue
from .models import Call
from .queue import CallQueue

# A call whose line ended this long ago and still has no owned outcome needs a person's attention.
OUTCOME_DEADLINE = timedelta(hours=1)


@dataclass
class ReconcileReport:
    restored_to_queue: int = 0
    removed_from_queue: int = 0
    without_outcome: list[int] = field(default_factory=list)


def reconcile(session: Session, queue: CallQueue) -> ReconcileReport:
    """Make Redis agree with the ledger and list the calls past their deadline without an owned outcome."""
    report = ReconcileReport()
    report.restored_to_queue = rebuild_queue(session, queue)
    waiting_ids = {w.call_id for w in queue.waiting()}
    if waiting_ids:
        still_waiting = set(session.scalars(select(Call.id).where(Call.id.in_(waiting_ids),
                                                                  Call.state == "queued")))
        for stale in waiting_ids - still_waiting:
            queue.remove(stale)
            report.removed_from_queue += 1
    cutoff = ledger.now() - OUTCOME_DEADLINE
    report.without_outcome = list(session.scalars(
        select(Call.id).where(Call.outcome.is_(None), Call.ended_at.is_not(None), Call.ended_at < cutoff,
                              Call.state.not_in(["abandoned"]))
    ))
    return report
