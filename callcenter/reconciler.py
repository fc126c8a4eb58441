"""Finds drift between Redis and the ledger and calls without an owned outcome, and mends what it can."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import ledger
from .calls import WAITING_STATES, keep_place_task, line_ended, rebuild_queue
from .gateway import GatewayError, TwilioGateway
from .ledger import TERMINAL_TELEPHONY
from .models import Call, CallbackTask
from .queue import CallQueue

# A call whose line ended this long ago and still has no owned outcome needs a person's attention.
OUTCOME_DEADLINE = timedelta(hours=1)


# A caller handed to an agent whose line never fetched the connect TwiML is stuck; after this, re-queue.
CONNECT_DEADLINE = timedelta(minutes=2)
SMS_GRACE = timedelta(minutes=2)
# An agent has this long after the caller is gone to wrap up; then the call is a supervisor's to own.
AFTER_CALL_WORK_LIMIT = timedelta(minutes=2)
# A caller on hold asks for the wait document about once a minute; silence this long means the line
# may have ended without the status callback reaching us, so Twilio is asked.
HOLD_SILENCE = timedelta(minutes=3)


@dataclass
class ReconcileReport:
    restored_to_queue: int = 0
    removed_from_queue: int = 0
    without_outcome: list[int] = field(default_factory=list)
    stuck_connecting: list[int] = field(default_factory=list)
    gone_while_waiting: list[int] = field(default_factory=list)
    sms_not_sent: list[int] = field(default_factory=list)
    wrap_up_overdue: list[int] = field(default_factory=list)  # newly raised to the supervisors


def reconcile(session: Session, queue: CallQueue, gateway: TwilioGateway | None = None,
              after_call_limit: timedelta = AFTER_CALL_WORK_LIMIT) -> ReconcileReport:
    """Make Redis agree with the ledger (and the ledger with Twilio), and list calls without an owned outcome."""
    report = ReconcileReport()
    if gateway is not None:
        report.gone_while_waiting = _ask_twilio_about_silent_waiters(session, queue, gateway)
    report.restored_to_queue = rebuild_queue(session, queue)
    waiting_ids = {w.call_id for w in queue.waiting()}
    if waiting_ids:
        still_waiting = set(session.scalars(select(Call.id).where(Call.id.in_(waiting_ids),
                                                                  Call.state.in_(WAITING_STATES))))
        for stale in waiting_ids - still_waiting:
            queue.remove(stale)
            report.removed_from_queue += 1
    now = ledger.now()
    for call in session.scalars(select(Call).where(Call.state == "connecting", Call.ended_at.is_(None))):
        taken = max((e.at for e in call.events if e.kind == "taken"), default=None)
        if taken is not None and now - taken > CONNECT_DEADLINE:
            task = keep_place_task(session, call)
            if task is not None and task.outbound_call_sid and task.status == "in_progress":
                task.status = "open"  # the callback is placed again by whoever takes it next
                ledger.requeue(session, call, "callback_never_connected", to_state="callback_waiting")
            else:
                ledger.requeue(session, call, "connect_never_fetched")
            session.commit()
            queue.enqueue(call.id, call.queued_at, call.priority, call.practice_id, repeat=call.repeat_caller)
            report.stuck_connecting.append(call.id)
    report.sms_not_sent = list(session.scalars(
        select(CallbackTask.id).where(CallbackTask.reason == "abandoned", CallbackTask.status == "open",
                                      CallbackTask.sms_sid.is_(None), CallbackTask.created_at < now - SMS_GRACE)
    ))
    report.wrap_up_overdue = _raise_overdue_wrap_ups(session, now - after_call_limit)
    cutoff = now - OUTCOME_DEADLINE
    report.without_outcome = list(session.scalars(
        select(Call.id).where(Call.outcome.is_(None), Call.ended_at.is_not(None), Call.ended_at < cutoff)
    ))
    return report


def overdue_wrap_ups(session: Session, ended_before) -> list[Call]:
    """Calls an agent talked on, whose caller left before `ended_before`, still without a wrap-up."""
    return list(session.scalars(
        select(Call).where(Call.state == "completed", Call.agent_id.is_not(None), Call.outcome.is_(None),
                           Call.answered_at.is_not(None), Call.ended_at.is_not(None), Call.ended_at < ended_before)
        .order_by(Call.ended_at).limit(200)))


def _raise_overdue_wrap_ups(session: Session, ended_before) -> list[int]:
    """The after-call work limit passed: each such call is raised once (a ledger event) for the supervisors."""
    raised = []
    for call in overdue_wrap_ups(session, ended_before):
        if ledger.record(session, call, "wrap_up_overdue", {"agent": call.agent_id}, dedupe_key="wrap_up_overdue"):
            raised.append(call.id)
    session.commit()
    return raised


def _ask_twilio_about_silent_waiters(session: Session, queue: CallQueue, gateway: TwilioGateway) -> list[int]:
    """Waiting calls whose hold loop went quiet: if Twilio says the line ended, they are abandoned."""
    cutoff = (ledger.now() - HOLD_SILENCE).timestamp()
    waiting = list(session.scalars(select(Call).where(Call.state == "queued", Call.ended_at.is_(None))))
    beats = queue.last_heartbeats([c.id for c in waiting])
    gone = []
    for call in waiting:
        last = beats.get(call.id) or (call.queued_at.timestamp() if call.queued_at else None)
        if last is None or last > cutoff:
            continue
        try:
            status = gateway.call_status(call.call_sid)
        except GatewayError:
            continue
        if status in TERMINAL_TELEPHONY:
            line_ended(session, queue, call, status, None, None)
            session.commit()
            gone.append(call.id)
    return gone
