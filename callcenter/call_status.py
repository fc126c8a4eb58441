"""Twilio's call status callbacks: applied to the ledger, or kept in Redis and replayed.

A status callback answered 204 is never sent again by Twilio, so one that could not be applied
(the database was down or locked) must not be dropped: the webhook keeps its fields here and the
worker replays them (see `replay_pending`, run by the reconciler job).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from redis import Redis
from sqlalchemy.orm import Session

from . import callbacks, calls
from .followups import FollowUps
from .queue import CallQueue

FIELDS = ("CallSid", "CallStatus", "SequenceNumber", "CallDuration", "From", "To", "Direction")


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


class PendingStatuses:
    """Status callbacks that could not be applied when they arrived, oldest first."""

    key = "cc:pending_status"

    def __init__(self, redis: Redis):
        self.redis = redis

    def keep(self, fields: dict) -> None:
        """Keep what Twilio said (only the fields we apply, each cut short) for the worker to replay."""
        self.redis.rpush(self.key, json.dumps({k: str(fields.get(k) or "")[:64] for k in FIELDS}))

    def __len__(self) -> int:
        return int(self.redis.llen(self.key))


def replay_pending(session: Session, queue: CallQueue, followups: FollowUps, pending: PendingStatuses,
                   limit: int = 1000) -> list[Applied]:
    """Apply kept status callbacks, oldest first; stop at the first that fails again (it stays first)."""
    done: list[Applied] = []
    while len(done) < limit:
        raw = pending.redis.lpop(pending.key)
        if raw is None:
            break
        try:
            done.append(apply(session, queue, followups, json.loads(raw)))
        except Exception:
            session.rollback()
            pending.redis.lpush(pending.key, raw)
            raise
    return done
