"""The patient's path through the service, as domain operations on the ledger and the queue.

Views call these with a session, the CallQueue and plain values; they commit nothing themselves
except where the order of commit and Redis write matters (noted at each place).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import ledger
from .accounts import practice_for_number
from .gateway import GatewayError, TwilioGateway
from .models import Call, CallbackTask, Message, Practice, User
from .queue import PRIORITY_ROUTINE, PRIORITY_URGENT, CallQueue

# Menu options: key -> (reason, priority). Every option reaches a person or a message.
MENU = {
    "1": ("urgent", PRIORITY_URGENT),
    "2": ("message", PRIORITY_ROUTINE),
    "0": ("operator", PRIORITY_ROUTINE),
}
CALLBACK_DELAY = timedelta(minutes=5)
DISPOSITIONS = ("message_taken", "answered_question", "appointment", "transferred", "wrong_number", "other")


class RoutingError(Exception):
    """A take or wrap-up that cannot happen; the message is safe to show the agent."""


def enter_ivr(session: Session, call_sid: str, dialled: str | None, caller: str | None,
              direction: str = "inbound") -> tuple[Call, Practice | None]:
    """Record a call's first webhook (idempotent) and find its practice by the dialled number."""
    practice = practice_for_number(session, dialled)
    call = ledger.open_call(session, call_sid, practice_id=practice.id if practice else None,
                            from_number=caller, to_number=dialled, direction=direction)
    ledger.record(session, call, "entered_ivr", {"known_number": practice is not None}, dedupe_key="entered_ivr")
    if practice is None and call.outcome is None:
        ledger.set_outcome(session, call, "not_ours")
    return call, practice


def choose(session: Session, call: Call, digit: str) -> tuple[str, int] | None:
    """Record the caller's menu choice; None when the key means nothing."""
    option = MENU.get(digit)
    if option is None:
        ledger.record(session, call, "invalid_input", {"digits": digit[:8]})
        return None
    reason, priority = option
    if call.reason is None:
        call.reason, call.priority = reason, priority
        ledger.record(session, call, "chose_option", {"reason": reason, "priority": priority})
    return call.reason, call.priority


def queue_call(session: Session, queue: CallQueue, call: Call) -> int:
    """Put the call in the waiting queue (idempotent); return its position.

    The ledger row is committed before the Redis write: if Redis loses the entry, the
    reconciler rebuilds it from the ledger; the reverse order could leave a Redis entry
    for a call the ledger never heard of.
    """
    if call.state == "ivr":
        call.queued_at = ledger.now()
        ledger.advance(call, "queued")
        ledger.record(session, call, "queued", {"reason": call.reason, "priority": call.priority},
                      dedupe_key="queued")
        session.commit()
    if call.state != "queued":
        return 0
    return queue.enqueue(call.id, call.queued_at, call.priority)


def take(session: Session, queue: CallQueue, gateway: TwilioGateway, call_id: int, agent: User,
         connect_url: str) -> Call:
    """Give a waiting call to `agent`; exactly one of any concurrent takers gets it."""
    if not queue.take(call_id):
        raise RoutingError("Another agent has already taken this call.")
    call = session.get(Call, call_id)
    if call is None or call.state != "queued":
        raise RoutingError("This caller is no longer waiting.")
    call.agent_id = agent.id
    ledger.advance(call, "connecting")
    ledger.record(session, call, "taken", {"agent": agent.id}, actor_id=agent.id)
    queue.agent_unavailable(agent.id)
    session.commit()
    try:
        gateway.redirect_call(call.call_sid, connect_url)
    except GatewayError:
        # The caller is still holding: put them back where they were.
        ledger.requeue(session, call, "redirect_failed")
        session.commit()
        queue.enqueue(call.id, call.queued_at, call.priority)
        raise RoutingError("Could not reach the caller's line; they are back in the queue.") from None
    return call


def connected(session: Session, call: Call) -> None:
    """Twilio fetched the connect TwiML: the caller is being bridged to the agent."""
    if ledger.advance(call, "connected"):
        call.answered_at = ledger.now()
        ledger.record(session, call, "connected", {"agent": call.agent_id}, actor_id=call.agent_id,
                      dedupe_key="connected")


def dial_finished(session: Session, queue: CallQueue, call: Call, dial_status: str,
                  dial_duration: int | None) -> bool:
    """The bridge to the agent ended. Return True if the caller should hold again (agent never answered)."""
    ledger.record(session, call, "dial_finished", {"status": dial_status, "duration": dial_duration},
                  dedupe_key=f"dial_finished:{dial_status}:{call.agent_id}")
    if dial_status in ("completed", "answered"):
        ledger.advance(call, "completed")
        return False
    agent_id = call.agent_id
    ledger.requeue(session, call, f"agent_{dial_status}")
    ledger.record(session, call, "agent_missed", {"agent": agent_id})
    session.commit()
    queue.enqueue(call.id, call.queued_at, call.priority)
    return True


def line_ended(session: Session, queue: CallQueue, call: Call, status: str, sequence: int | None,
               duration: int | None) -> str | None:
    """Apply a status callback. Returns 'abandoned' when this ended a call nobody had answered."""
    if not ledger.apply_status(session, call, status, sequence, duration):
        return None
    if call.state in ("ivr", "queued", "connecting") and call.practice_id is not None:
        queue.remove(call.id)
        ledger.advance(call, "abandoned")
        ledger.record(session, call, "abandoned", {"reason": call.reason}, dedupe_key="abandoned")
        if call.outcome is None:
            session.add(CallbackTask(practice_id=call.practice_id, call_id=call.id, number=call.from_number,
                                     reason="abandoned", due_at=ledger.now() + CALLBACK_DELAY))
        return "abandoned"
    if call.state == "connected":
        ledger.advance(call, "completed")
    return None


def wrap_up(session: Session, call: Call, agent: User, disposition: str, notes: str,
            message: str | None = None, caller_name: str | None = None, callback_number: str | None = None,
            urgency: str = "routine") -> Message | None:
    """Save the agent's wrap-up: the call is handled; a message for the practice is kept with it."""
    if disposition not in DISPOSITIONS:
        raise RoutingError(f"Choose a disposition ({', '.join(DISPOSITIONS)}).")
    if call.agent_id != agent.id and agent.role == "agent":
        raise RoutingError("This call belongs to another agent.")
    if call.state == "wrapped_up":
        raise RoutingError("This call is already wrapped up.")
    if urgency not in ("routine", "urgent"):
        raise RoutingError("Urgency is routine or urgent.")
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
    call.state = "wrapped_up" if ledger.STATE_RANK[call.state] >= ledger.STATE_RANK["connecting"] else call.state
    ledger.set_outcome(session, call, "message_taken" if saved else "handled", actor_id=agent.id)
    return saved


def waiting_calls(session: Session, queue: CallQueue) -> list[Call]:
    """The calls in the queue, in the order they will be answered."""
    ids = [w.call_id for w in queue.waiting()]
    if not ids:
        return []
    rows = {c.id: c for c in session.scalars(select(Call).where(Call.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def rebuild_queue(session: Session, queue: CallQueue) -> int:
    """Put every call the ledger says is waiting back in Redis, in its original order."""
    rows = session.execute(select(Call.id, Call.queued_at, Call.priority).where(Call.state == "queued")).all()
    return queue.rebuild([(r.id, r.queued_at, r.priority) for r in rows if r.queued_at is not None])
