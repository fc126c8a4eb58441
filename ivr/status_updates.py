"""Status callbacks: applied to the ledger, or kept in Redis and replayed when the database fails.

A status callback answered 204 is never sent again by Twilio, so one that could not be applied
must not be dropped: it is stashed and the worker replays it (see ops.jobs.reconcile_job).
"""

from __future__ import annotations

import json
import logging

from flask import Response, current_app, request
from rq import Retry

from callcenter import callbacks, calls
from callcenter.extensions import db

from .flow import announce

log = logging.getLogger(__name__)
PENDING_KEY = "cc:pending_status"
FIELDS = ("CallSid", "CallStatus", "SequenceNumber", "CallDuration", "From", "To", "Direction")


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**31 else None


def apply(form: dict) -> None:
    """Apply one status callback (idempotent). A call the ledger never saw is recorded now."""
    call_sid = form.get("CallSid", "")
    call_status = form.get("CallStatus", "")
    call = calls.find_by_leg(db.session, call_sid)
    task = callbacks.find_by_outbound_sid(db.session, call_sid) if call is not None else None
    if task is not None:  # our call to a patient, not the patient's own call
        callbacks.outbound_status(db.session, current_app.call_queue, task, call_status)
        db.session.commit()
        return
    if call is None:
        if not call_sid or form.get("Direction", "inbound") != "inbound":
            return
        # Its first webhook failed (the caller heard the safe fallback): the call still gets its row,
        # and hanging up makes it abandoned with a callback like any other.
        call, _ = calls.enter_ivr(db.session, call_sid, form.get("To"), form.get("From"))
    result = calls.line_ended(db.session, current_app.call_queue, call, call_status,
                              _int(form.get("SequenceNumber")), _int(form.get("CallDuration")))
    db.session.commit()
    if result == "abandoned":
        _tell_abandoned_caller(call)
        announce()


def _tell_abandoned_caller(call) -> None:
    """Queue the SMS that says when we will call back (a job: Twilio's answer must not wait on it)."""
    from ops.jobs import send_callback_sms_job

    task = calls.keep_place_task(db.session, call)
    if task is None:
        return
    try:
        current_app.task_queue.enqueue(send_callback_sms_job, task.id, job_id=f"callback-sms-{task.id}",
                                       retry=Retry(max=3, interval=[10, 60, 300]))
    except Exception as exc:  # the reconciler finds tasks whose SMS was never sent
        log.warning("could not queue the callback SMS: %s", type(exc).__name__)


def stash_and_acknowledge() -> Response:
    """The webhook failed: keep what Twilio said for the worker to replay, and answer 204."""
    fields = {k: request.form.get(k, "")[:64] for k in FIELDS}
    try:
        current_app.redis.rpush(PENDING_KEY, json.dumps(fields))
    except Exception as exc:
        log.error("status callback could not be applied nor kept (%s); the reconciler will ask Twilio",
                  type(exc).__name__)
    return Response(status=204)


def replay_pending(limit: int = 1000) -> int:
    """Apply stashed status callbacks, oldest first; stop at the first that fails again."""
    done = 0
    while done < limit:
        raw = current_app.redis.lpop(PENDING_KEY)
        if raw is None:
            break
        try:
            apply(json.loads(raw))
        except Exception:
            db.session.rollback()
            current_app.redis.lpush(PENDING_KEY, raw)
            raise
        done += 1
    return done
