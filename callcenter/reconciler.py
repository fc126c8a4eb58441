"""Finds drift between Redis and the ledger and calls without an owned outcome, and mends what it can."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from . import ledger, voicemail
from .calls import WAITING_STATES, keep_place_task, line_ended, rebuild_queue
from .gateway import GatewayError, TwilioGateway
from .ledger import TERMINAL_TELEPHONY
from .models import Call, CallbackTask, CallEvent, Message, OnCallPage
from .queue import CallQueue

# A call whose line ended this long ago and still has no owned outcome needs a person's attention.
OUTCOME_DEADLINE = timedelta(hours=1)


# A caller handed to an agent whose line never fetched the connect TwiML is stuck; after this, re-queue.
CONNECT_DEADLINE = timedelta(minutes=2)
SMS_GRACE = timedelta(minutes=2)
# An urgent message whose page job has not run this long after it was taken lost its job (Redis lost it,
# or the worker died before the page was written down): it is launched again, for this long.
PAGE_GRACE = timedelta(minutes=1)
PAGE_LOOKBACK = timedelta(days=2)
# An agent has this long after the caller is gone to wrap up; then the call is a supervisor's to own.
AFTER_CALL_WORK_LIMIT = timedelta(minutes=2)
# A caller on hold asks for the wait document about once a minute; silence this long means the line
# may have ended without the status callback reaching us, so Twilio is asked.
HOLD_SILENCE = timedelta(minutes=3)
# Any other call still open this long after it began may have ended without its status callback
# reaching us (and without one being kept): Twilio is asked, again every ASK_AGAIN while it stays open.
OPEN_TOO_LONG = timedelta(minutes=15)
ASK_AGAIN = timedelta(minutes=10)
# A call that ended without an owned outcome or a voicemail may have recorded one whose callback was lost
# (or reached nobody: Twilio's own fallback document records too). Twilio is asked once, after this.
RECORDING_GRACE = timedelta(minutes=2)
RECORDING_LOOKBACK = timedelta(days=2)
PER_ROUND = 50  # REST requests of each kind per round, oldest calls first


@dataclass
class ReconcileReport:
    restored_to_queue: int = 0
    removed_from_queue: int = 0
    without_outcome: list[int] = field(default_factory=list)
    stuck_connecting: list[int] = field(default_factory=list)
    gone_while_waiting: list[int] = field(default_factory=list)
    sms_not_sent: list[int] = field(default_factory=list)
    pages_not_sent: list[int] = field(default_factory=list)  # urgent messages with no page at all
    wrap_up_overdue: list[int] = field(default_factory=list)  # newly raised to the supervisors
    ended_unseen: list[tuple[int, int | None]] = field(default_factory=list)  # (call, its agent): Twilio says ended
    voicemails_found: list[int] = field(default_factory=list)  # calls whose recording Twilio had and we did not


def reconcile(session: Session, queue: CallQueue, gateway: TwilioGateway | None = None,
              after_call_limit: timedelta = AFTER_CALL_WORK_LIMIT) -> ReconcileReport:
    """Make Redis agree with the ledger (and the ledger with Twilio), and list calls without an owned outcome."""
    report = ReconcileReport()
    if gateway is not None:
        report.gone_while_waiting = _ask_twilio_about_silent_waiters(session, queue, gateway)
        report.ended_unseen = _ask_twilio_about_open_calls(session, queue, gateway, ledger.now())
        report.voicemails_found = _find_lost_recordings(session, gateway, ledger.now())
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
    report.pages_not_sent = list(session.scalars(
        select(Message.id).where(Message.urgency == "urgent", Message.kind.in_(("agent", "voicemail")),
                                 Message.call_id.is_not(None),
                                 Message.created_at < now - PAGE_GRACE, Message.created_at > now - PAGE_LOOKBACK,
                                 ~exists().where(OnCallPage.call_id == Message.call_id))
        .order_by(Message.created_at).limit(PER_ROUND)))
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


def _ask_twilio_about_open_calls(session: Session, queue: CallQueue, gateway: TwilioGateway,
                                 now) -> list[tuple[int, int | None]]:
    """Calls open past OPEN_TOO_LONG in any state but holding (see above): those Twilio says ended are
    ended here as its status callback would have ended them (abandoned with a callback, or completed)."""
    open_calls = session.scalars(
        select(Call).where(Call.ended_at.is_(None), Call.state != "queued", Call.direction == "inbound",
                           Call.created_at < now - OPEN_TOO_LONG).order_by(Call.created_at).limit(PER_ROUND * 4))
    ended, asked = [], 0
    for call in open_calls:
        if asked >= PER_ROUND:
            break
        slot = int(now.timestamp() // ASK_AGAIN.total_seconds())
        if not ledger.record(session, call, "asked_twilio", {"state": call.state}, dedupe_key=f"asked_twilio:{slot}"):
            continue  # asked in this slot already
        session.commit()
        asked += 1
        try:
            status = gateway.call_status(call.call_sid)
        except GatewayError:
            continue
        if status in TERMINAL_TELEPHONY:
            agent_id = call.agent_id
            line_ended(session, queue, call, status, None, None)
            ledger.record(session, call, "ended_unseen", {"status": status}, dedupe_key="ended_unseen")
            session.commit()
            ended.append((call.id, agent_id))
    return ended


def _find_lost_recordings(session: Session, gateway: TwilioGateway, now) -> list[int]:
    """Ended calls without an owned outcome, answered by nobody and holding no voicemail: Twilio is asked
    once for their recordings, and one found becomes the voicemail message it should have been."""
    has_voicemail = exists().where(Message.call_id == Call.id, Message.kind == "voicemail")
    checked = exists().where(CallEvent.call_id == Call.id, CallEvent.kind == "recordings_checked")
    calls = session.scalars(
        select(Call).where(Call.outcome.is_(None), Call.answered_at.is_(None), Call.practice_id.is_not(None),
                           Call.direction == "inbound", Call.ended_at < now - RECORDING_GRACE,
                           Call.ended_at > now - RECORDING_LOOKBACK, ~has_voicemail, ~checked)
        .order_by(Call.ended_at).limit(PER_ROUND)).all()
    found = []
    for call in calls:
        try:
            recordings = gateway.recordings(call.call_sid)
        except GatewayError:
            continue  # asked again next round
        ledger.record(session, call, "recordings_checked", {"found": len(recordings)}, dedupe_key="recordings_checked")
        if recordings:
            newest = recordings[0]
            voicemail.save(session, call, newest["url"], newest["sid"], newest["duration"], call.priority > 0)
            ledger.record(session, call, "voicemail_recovered", {"recording_sid": newest["sid"]},
                          dedupe_key="voicemail_recovered")
            found.append(call.id)
        session.commit()
    return found
