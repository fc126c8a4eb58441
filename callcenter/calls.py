"""Operations on one call along the patient's path: entering the IVR, menu choices, queueing, taking,
bridging, ending and wrap-up, on the ledger and the queue (where the caller goes next: `patient_path`).

Views call these with a session, the CallQueue, the gateway and plain values. Where the order of
a commit and a Redis write matters, the function commits itself and says why.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import cases, ledger, menu, rows
from .accounts import practice_for_number
from .gateway import GatewayError, TwilioGateway
from .models import Call, CallbackTask, Message, Practice, User
from .practice_directory import PracticeCard
from .presence import Presence
from .queue import QUEUE_FULL, CallQueue

CALLBACK_DELAY = timedelta(minutes=15)
DISPOSITIONS = ("message_taken", "answered_question", "appointment", "transferred", "wrong_number", "other")
WAITING_STATES = ("queued", "callback_waiting")


class Refused(Exception):
    """Something an agent asked for that cannot happen (a take, a wrap-up); the message is safe to show them."""


def enter_ivr(session: Session, call_sid: str, dialled: str | None, caller: str | None,
              direction: str = "inbound") -> tuple[Call, Practice | None]:
    """Record a call's first webhook (idempotent) and find its practice by the dialled number."""
    practice = practice_for_number(session, dialled)
    call = ledger.open_call(session, call_sid, practice_id=practice.id if practice else None,
                            from_number=caller, to_number=dialled, direction=direction, first_event="entered_ivr")
    if practice is None and call.outcome is None:
        ledger.set_outcome(session, call, "not_ours")
    return call, practice


def arrive(session: Session, practice: PracticeCard, call_sid: str, dialled: str | None, caller: str | None,
           direction: str = "inbound") -> tuple[int, str]:
    """A call to one of our practices comes in (idempotent): its id, and the language to greet it in.

    The hot path of every call: two INSERTs, no ORM; a retried webhook finds the call it made.
    """
    call_id, new = ledger.open_call_row(session, call_sid, practice_id=practice.id, from_number=caller,
                                        to_number=dialled, direction=direction, first_event="entered_ivr")
    language = "en" if new else session.scalar(select(Call.language).where(Call.id == call_id))
    return call_id, language


def set_language(session: Session, call: Call, language: str) -> None:
    if call.language != language:
        call.language = language
        ledger.record(session, call, "language", {"language": language})


def choose_option(session: Session, call: Call, option: menu.Option, *, how: str) -> menu.Option:
    """Record the caller's menu choice (the first choice stands; later ones are only recorded)."""
    if call.reason is None:
        call.reason, call.priority = option.reason, option.priority
        ledger.record(session, call, "chose_option", {"reason": option.reason, "by": how})
    return option


def choose(session: Session, call: Call, digit: str) -> tuple[str, int] | None:
    """Record a keypad choice from the full menu; None when the key means nothing."""
    option = menu.by_key(digit, menu.OPTIONS)
    if option is None:
        ledger.record(session, call, "invalid_input", {"digits": digit[:8]})
        return None
    choose_option(session, call, option, how="dtmf")
    return call.reason, call.priority


def mark_emergency(session: Session, call: Call, phrases: list[str]) -> None:
    """The caller said urgent-symptom words: keep that on the call and route it as urgent."""
    call.emergency_words = True
    ledger.record(session, call, "emergency_words", {"phrases": phrases[:5]})
    choose_option(session, call, menu.BY_REASON["urgent"], how="emergency_words")
    if call.priority < menu.BY_REASON["urgent"].priority:  # an earlier routine choice is overridden
        call.priority = menu.BY_REASON["urgent"].priority
        call.reason = "urgent"


def queue_call(session: Session, queue: CallQueue, call: Call) -> int:
    """Put the call in the waiting queue (idempotent); return its position, or QUEUE_FULL.

    The ledger row is committed before the Redis write: if Redis loses the entry, the
    reconciler rebuilds it from the ledger; the reverse order could leave a Redis entry
    for a call the ledger never heard of.
    """
    capacity = call.practice.queue_capacity if call.practice is not None else None
    joining = call.state == "ivr"
    if joining:
        cases.note_repeat_caller(session, call)
        call.queued_at = ledger.now()
        ledger.advance(call, "queued")
        ledger.record(session, call, "queued", {"reason": call.reason, "priority": call.priority},
                      dedupe_key="queued")
    if call.state not in WAITING_STATES:
        return 0
    # Read before the commit expires them: the caller joins the line straight after it, with no reads between.
    call_id, queued_at, priority, practice_id, repeat = (call.id, call.queued_at, call.priority, call.practice_id,
                                                         call.repeat_caller)
    if joining:
        session.commit()
    position = queue.enqueue(call_id, queued_at, priority, practice_id, capacity, repeat=repeat)
    if position == QUEUE_FULL:
        ledger.record(session, call, "queue_full", {})
        call.state = "ivr" if call.state == "queued" else call.state
        call.queued_at = None
        session.commit()
    return position


def leave_queue(session: Session, queue: CallQueue, call: Call, why: str) -> None:
    """Take a waiting caller out of the queue (max wait reached, overflow); they go on to another path."""
    queue.remove(call.id)
    ledger.record(session, call, "left_queue", {"why": why}, dedupe_key=f"left_queue:{why}")


def take(session: Session, queue: CallQueue, presence: Presence, gateway: TwilioGateway, call_id: int,
         agent: User, connect_url: str, *, status_url: str | None = None) -> Call:
    """Give a waiting call to `agent`; exactly one of any concurrent takers gets it.

    A caller on hold is redirected to `connect_url`; a caller who chose to be called back is
    called now, and `connect_url` bridges them to the agent when they answer.
    """
    if not queue.take(call_id):
        raise Refused("Another agent has already taken this call.")
    call = session.get(Call, call_id)
    if call is None or call.state not in WAITING_STATES:
        raise Refused("This caller is no longer waiting.")
    was = call.state
    call.agent_id = agent.id
    ledger.advance(call, "connecting")
    ledger.record(session, call, "taken", {"agent": agent.id, "callback": was == "callback_waiting"},
                  actor_id=agent.id)
    presence.set_away(agent.id)
    session.commit()
    try:
        if was == "callback_waiting":
            task = keep_place_task(session, call)
            status_url = status_url or connect_url.split("/ivr/connect/")[0] + "/ivr/status"
            sid = gateway.place_call(task.number, call.to_number, connect_url, status_callback=status_url)
            task.outbound_call_sid = sid
            task.status = "in_progress"
            ledger.record(session, call, "callback_dialled", {"agent": agent.id})
            session.commit()
        else:
            gateway.redirect_call(live_leg(session, call), connect_url)
    except GatewayError:
        # Nothing reached the patient: put them back exactly where they were.
        ledger.requeue(session, call, "gateway_failed", to_state=was)
        session.commit()
        queue.enqueue(call.id, call.queued_at, call.priority, call.practice_id, repeat=call.repeat_caller)
        raise Refused("Could not reach the caller's line; they are back in the queue.") from None
    return call


def keep_place_task(session: Session, call: Call) -> CallbackTask | None:
    return session.scalar(select(CallbackTask).where(CallbackTask.call_id == call.id))


def live_leg(session: Session, call: Call) -> str:
    """The CallSid the patient is on now: ours when we called them back and they are holding again."""
    task = keep_place_task(session, call)
    if task is not None and task.outbound_call_sid and task.status == "in_progress":
        return task.outbound_call_sid
    return call.call_sid


def find_by_leg(session: Session, call_sid: str) -> Call | None:
    """The call a webhook is about, whether it came on the patient's own call or on our callback to them."""
    call = ledger.find_call(session, call_sid)
    if call is None and call_sid:
        task = session.scalar(select(CallbackTask).where(CallbackTask.outbound_call_sid == call_sid))
        call = session.get(Call, task.call_id) if task is not None and task.call_id else None
    return call


def lock(session: Session, call: Call) -> Call:
    """The call's row read afresh and locked until the transaction ends (callcenter/rows.py), so that
    updates made together (Twilio sends a call's status callbacks at once) apply one after another and
    never move it backwards."""
    return rows.locked(session, Call, Call.id == call.id)


def bridging(session: Session, call: Call) -> None:
    """Twilio fetched the connect TwiML: the agent's leg rings (the call is connected once it answers)."""
    ledger.record(session, call, "bridging", {"agent": call.agent_id}, actor_id=call.agent_id,
                  dedupe_key=f"bridging:{call.agent_id}")


def connected(session: Session, call: Call) -> None:
    """The agent's leg answered (or the bridge reported a conversation): caller and agent are talking."""
    if ledger.advance(call, "connected"):
        call.answered_at = ledger.now()
        ledger.record(session, call, "connected", {"agent": call.agent_id}, actor_id=call.agent_id,
                      dedupe_key="connected")


def dial_finished(session: Session, queue: CallQueue, call: Call, dial_status: str,
                  dial_duration: int | None) -> bool:
    """The bridge to the agent ended. Return True if the caller should hold again (agent never answered)."""
    event = ledger.record(session, call, "dial_finished", {"status": dial_status, "duration": dial_duration},
                          dedupe_key=f"dial_finished:{dial_status}:{call.agent_id}")
    if dial_status in ("completed", "answered"):
        connected(session, call)  # the agent answered, even if their leg's own report was lost
        ledger.advance(call, "completed")
        if event is not None and dial_duration:
            queue.record_handle_time(dial_duration)
        return False
    if call.state not in ("connecting", "connected"):
        return False
    agent_id = call.agent_id
    ledger.requeue(session, call, f"agent_{dial_status}")
    ledger.record(session, call, "agent_missed", {"agent": agent_id})
    session.commit()
    queue.enqueue(call.id, call.queued_at, call.priority, call.practice_id, repeat=call.repeat_caller)
    return True


def line_ended(session: Session, queue: CallQueue, call: Call, status: str, sequence: int | None,
               duration: int | None) -> str | None:
    """Apply a status callback. Returns 'abandoned' when this ended a call before an owned outcome."""
    if not ledger.apply_status(session, call, status, sequence, duration):
        return None
    if call.state == "callback_waiting":
        return None  # the caller hung up on purpose; their callback keeps the place
    if call.state in ("ivr", "queued", "connecting") and call.practice_id is not None and call.outcome is None:
        queue.remove(call.id)
        ledger.advance(call, "abandoned")
        ledger.record(session, call, "abandoned", {"reason": call.reason, "where": call.state},
                      dedupe_key="abandoned")
        if keep_place_task(session, call) is None:
            session.add(CallbackTask(practice_id=call.practice_id, call_id=call.id, number=call.from_number,
                                     reason="abandoned", due_at=ledger.now() + CALLBACK_DELAY))
        return "abandoned"
    if call.state in ("connected", "on_call"):
        ledger.advance(call, "completed")
    return None


def wrap_up(session: Session, call: Call, agent: User, disposition: str, notes: str,
            message: str | None = None, caller_name: str | None = None, callback_number: str | None = None,
            urgency: str = "routine") -> Message | None:
    """Save the agent's wrap-up: the call is handled; a message for the practice is kept with it."""
    if disposition not in DISPOSITIONS:
        raise Refused(f"Choose a disposition ({', '.join(DISPOSITIONS)}).")
    if call.agent_id != agent.id and agent.role == "agent":
        raise Refused("This call belongs to another agent.")
    if call.state == "wrapped_up":
        raise Refused("This call is already wrapped up.")
    if urgency not in ("routine", "urgent"):
        raise Refused("Urgency is routine or urgent.")
    call.disposition = disposition
    call.notes = (notes or "").strip()[:5000] or None
    saved = None
    if message and message.strip():
        saved = Message(practice_id=call.practice_id, call_id=call.id, urgency=urgency,
                        caller_name=(caller_name or "").strip()[:200] or None,
                        callback_number=(callback_number or "").strip()[:32] or None,
                        body=message.strip()[:5000], taken_by_id=agent.id, delivered_at=ledger.now())
        session.add(saved)
    ledger.record(session, call, "wrapped_up", {"disposition": disposition, "message": saved is not None},
                  actor_id=agent.id)
    if ledger.STATE_RANK[call.state] >= ledger.STATE_RANK["connecting"]:
        call.state = "wrapped_up"
    task = keep_place_task(session, call)
    if task is not None and task.status != "done":
        if call.answered_at is None:
            return saved  # the patient was never reached: the open callback task still owes them a call
        task.status, task.completed_at, task.completed_by_id = "done", ledger.now(), agent.id
        ledger.set_outcome(session, call, "callback_completed", actor_id=agent.id)
    ledger.set_outcome(session, call, "message_taken" if saved else "handled", actor_id=agent.id)
    if call.answered_at is not None:  # the patient was served on this call: what was owed them is closed
        cases.close_served(session, call, agent, ledger.now())
    return saved


def waiting_calls(session: Session, queue: CallQueue, limit: int | None = None) -> list[Call]:
    """The calls in the queue, in the order they will be answered (the first `limit` of them)."""
    ids = [w.call_id for w in queue.waiting(limit)]
    if not ids:
        return []
    rows = {c.id: c for c in session.scalars(select(Call).where(Call.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def rebuild_queue(session: Session, queue: CallQueue) -> int:
    """Put every call the ledger says is waiting back in Redis, in its original order."""
    rows = session.execute(
        select(Call.id, Call.queued_at, Call.priority, Call.practice_id, Call.repeat_caller)
        .where(Call.state.in_(WAITING_STATES))
    ).all()
    return queue.rebuild([(r.id, r.queued_at, r.priority, r.practice_id, bool(r.repeat_caller)) for r in rows
                          if r.queued_at is not None])


def waited_seconds(call: Call, at: datetime) -> float:
    return (at - call.queued_at).total_seconds() if call.queued_at else 0.0
