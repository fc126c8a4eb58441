"""Twilio's call status callbacks, applied to the ledger.

The ledger is the truth and Redis only mirrors it: a callback is applied even while Redis is down
(the reconciler mends the queue afterwards). One that cannot be applied at all (the database is down
or locked) is kept by the webhook and replayed by the worker (callcenter/kept.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from . import callbacks, calls
from .followups import FollowUps
from .queue import CallQueue


@dataclass(frozen=True)
class Applied:
    """What one status callback changed that others should hear about."""

    abandoned: bool = False  # a waiting caller hung up: the queue changed, a callback is owed
    agent_id: int | None = None  # the agent whose call this changed: their console must hear
    call_id: int | None = None
    call_state: str | None = None


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**31 else None


def apply(session: Session, queue: CallQueue, followups: FollowUps, fields: dict) -> Applied:
    """Apply one status callback (idempotent) and commit. A call the ledger never saw is recorded now.

    A caller who hung up while waiting gets a callback task, and the SMS that says when we will
    call back is launched as a job: Twilio's answer must not wait on it.
    """
    call_sid = fields.get("CallSid", "")
    call_status = fields.get("CallStatus", "")
    call = calls.find_by_leg(session, call_sid)
    if call is not None:  # callbacks of one call arrive together: each sees what the one before it wrote
        call = calls.lock(session, call)
    task = callbacks.find_by_outbound_sid(session, call_sid) if call is not None else None
    if task is not None:  # our call to a patient, not the patient's own call
        callbacks.outbound_status(session, queue, task, call_status)
        session.commit()
        return Applied()
    if call is None:
        if not call_sid or fields.get("Direction", "inbound") != "inbound":
            return Applied()
        # Its first webhook failed (the caller heard the safe fallback): the call still gets its row,
        # and hanging up makes it abandoned with a callback like any other.
        call, _ = calls.enter_ivr(session, call_sid, fields.get("To"), fields.get("From"))
    was = call.state
    result = calls.line_ended(session, queue, call, call_status, _int(fields.get("SequenceNumber")),
                              _int(fields.get("CallDuration")))
    session.commit()
    if result != "abandoned":
        changed = call.state != was
        return Applied(agent_id=call.agent_id if changed else None, call_id=call.id, call_state=call.state)
    task = calls.keep_place_task(session, call)
    if task is not None:  # if this launch fails, the reconciler finds the task whose SMS was never sent
        followups.send_callback_sms(task.id)
    return Applied(abandoned=True, agent_id=call.agent_id, call_id=call.id, call_state=call.state)
