"""What the live console is told. Messages are hints: a console can always ask for a snapshot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from .calls import waiting_calls
from .queue import CallQueue

NAMESPACE = "/console"


def mask_number(number: str | None) -> str:
    """A caller's number as the queue list shows it: enough to recognise, not to dial."""
    digits = [c for c in (number or "") if c.isdigit()]
    return "•••" + "".join(digits[-4:]) if len(digits) >= 7 else "withheld"


def queue_snapshot(session: Session, queue: CallQueue) -> dict:
    """The waiting queue in answer order, for every console."""
    now = datetime.now(UTC)
    waiting = []
    for position, call in enumerate(waiting_calls(session, queue), start=1):
        waiting.append({
            "id": call.id,
            "position": position,
            "practice": call.practice.name if call.practice else None,
            "reason": call.reason,
            "urgent": call.priority > 0,
            "caller": mask_number(call.from_number),
            "waiting_seconds": int((now - call.queued_at).total_seconds()) if call.queued_at else 0,
        })
    return {"waiting": waiting, "available_agents": queue.available_agents(), "at": now.isoformat()}


def announce_queue(session: Session, queue: CallQueue, emit: Callable) -> None:
    """Tell every console the queue changed, with the new snapshot."""
    emit("queue", queue_snapshot(session, queue), namespace=NAMESPACE)
