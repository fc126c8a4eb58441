"""What the live console is told. Messages are hints: a console can always ask for a snapshot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .calls import waiting_calls
from .models import CallbackTask
from .queue import CallQueue

NAMESPACE = "/console"
SNAPSHOT_LIMIT = 100


def mask_number(number: str | None) -> str:
    """A caller's number as the queue list shows it: enough to recognise, not to dial."""
    digits = [c for c in (number or "") if c.isdigit()]
    return "•••" + "".join(digits[-4:]) if len(digits) >= 7 else "withheld"


def queue_snapshot(session: Session, queue: CallQueue) -> dict:
    """The waiting queue in answer order, for every console.

    A caller who chose to keep their place and be called back is still in line (state
    `callback_waiting`); their row says so (`callback: true`, with the masked number they asked
    to be called at), because taking it makes the app call the patient.
    """
    now = datetime.now(UTC)
    # Every change is broadcast to every console: the list is capped so that a long queue does not
    # make each caller's webhook pay for rendering all the others. `total` says how many wait.
    calls = waiting_calls(session, queue, SNAPSHOT_LIMIT)
    callback_ids = [c.id for c in calls if c.state == "callback_waiting"]
    numbers = dict(session.execute(
        select(CallbackTask.call_id, CallbackTask.number).where(CallbackTask.call_id.in_(callback_ids))
    ).all()) if callback_ids else {}
    waiting = []
    for position, call in enumerate(calls, start=1):
        callback = call.state == "callback_waiting"
        waiting.append({
            "id": call.id,
            "position": position,
            "practice": call.practice.name if call.practice else None,
            "reason": call.reason,
            "urgent": call.priority > 0,
            "caller": mask_number(call.from_number),
            "callback": callback,
            "callback_number": mask_number(numbers.get(call.id)) if callback else None,
            "waiting_seconds": int((now - call.queued_at).total_seconds()) if call.queued_at else 0,
        })
    return {"waiting": waiting, "total": len(queue), "available_agents": queue.available_agents(),
            "at": now.isoformat()}


def announce_queue(session: Session, queue: CallQueue, emit: Callable) -> None:
    """Tell every console the queue changed, with the new snapshot."""
    emit("queue", queue_snapshot(session, queue), namespace=NAMESPACE)
