"""A patient's open case: what the service still owes someone who calls again.

A case is open while a callback is owed to the number (an open or ringing callback task) or a
voicemail from it waits for review. A caller with an open case is a repeat caller: recognised when
they queue (served sooner, see `queue.REPEAT_HEAD_START`), shown on the offer and the screen-pop,
and the callback they were owed is closed when this call serves them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from . import ledger
from .models import Call, CallbackTask, Message, User


def open_case(session: Session, practice_id: int | None, number: str | None,
              excluding_call_id: int | None = None) -> dict | None:
    """The newest open case for this number at this practice: {kind, id, call_id, reason, since}."""
    if practice_id is None or not number or not any(c.isdigit() for c in number):
        return None
    task = session.scalar(
        select(CallbackTask)
        .where(CallbackTask.practice_id == practice_id, CallbackTask.status.in_(("open", "in_progress")),
               CallbackTask.number == number,
               or_(CallbackTask.call_id.is_(None), CallbackTask.call_id != (excluding_call_id or 0)))
        .order_by(CallbackTask.created_at.desc()).limit(1))
    if task is not None:
        return {"kind": "callback", "id": task.id, "call_id": task.call_id, "reason": task.reason,
                "since": task.created_at.isoformat(), "due_at": task.due_at.isoformat()}
    voicemail = session.scalar(
        select(Message).join(Call, Call.id == Message.call_id)
        .where(Call.practice_id == practice_id, Call.from_number == number, Message.needs_review.is_(True),
               Call.id != (excluding_call_id or 0))
        .order_by(Message.created_at.desc()).limit(1))
    if voicemail is not None:
        return {"kind": "voicemail", "id": voicemail.id, "call_id": voicemail.call_id, "reason": "voicemail",
                "since": voicemail.created_at.isoformat(), "due_at": None}
    return None


def note_repeat_caller(session: Session, call: Call) -> bool:
    """Mark the call as a repeat caller's if the number has an open case (before it is queued)."""
    if call.repeat_caller:
        return True
    case = open_case(session, call.practice_id, call.from_number, call.id)
    if case is None:
        return False
    call.repeat_caller = True
    ledger.record(session, call, "repeat_caller", {"case": case["kind"], "id": case["id"]},
                  dedupe_key="repeat_caller")
    return True


def close_served(session: Session, call: Call, agent: User, now: datetime) -> list[int]:
    """This call served the patient: the callbacks still owed to their number are done with it."""
    if call.practice_id is None or not call.from_number:
        return []
    tasks = list(session.scalars(
        select(CallbackTask).where(CallbackTask.practice_id == call.practice_id, CallbackTask.status == "open",
                                   CallbackTask.number == call.from_number,
                                   or_(CallbackTask.call_id.is_(None), CallbackTask.call_id != call.id))))
    for task in tasks:
        task.status, task.completed_at, task.completed_by_id = "done", now, agent.id
        if task.call is not None:
            ledger.record(session, task.call, "callback_closed_by_call", {"call": call.id}, actor_id=agent.id)
            ledger.set_outcome(session, task.call, "callback_completed", actor_id=agent.id)
    return [t.id for t in tasks]
