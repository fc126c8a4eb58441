"""The agent's desk: what one agent sees and does between the queue and the ledger.

Queries here shape plain, JSON-ready dicts for the live console (like `live.py` does for the
queue); operations take a session, the CallQueue and plain values, and commit nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from . import calls, ledger, voicemail
from .accounts import AccountError, normalize_number
from .delivery import recent_pages
from .gateway import GatewayError, TwilioGateway
from .live import queue_snapshot
from .models import AuditEntry, Call, CallbackTask, Message, Practice, User
from .queue import CallQueue

# States in which a call still belongs on its agent's desk: being bridged, talking, or waiting for wrap-up.
ON_DESK = ("connecting", "connected", "completed")
# A keep-my-place callback whose call is in one of these is in the queue or with an agent, not on the list.
IN_LINE = (*calls.WAITING_STATES, *ON_DESK)
HISTORY_LIMIT = 10
CALLBACKS_LIMIT = 200
VOICEMAILS_LIMIT = 200
# Agent id -> id of the call they took while available: they become available again when it is done.
RESUME_KEY = "cc:agents:resume"


class DeskError(Exception):
    """Something an agent asked for that cannot happen; the message is safe to show them."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# Queries

def current_call(session: Session, agent: User) -> Call | None:
    """The call on the agent's desk: taken and not yet wrapped up."""
    return session.scalar(
        select(Call).where(Call.agent_id == agent.id, Call.state.in_(ON_DESK)).order_by(Call.id.desc()).limit(1)
    )


def caller_history(session: Session, call: Call, limit: int = HISTORY_LIMIT) -> list[dict]:
    """Earlier calls from the same number to the same practice, newest first, with their messages."""
    if not call.from_number or call.practice_id is None:
        return []
    earlier = list(session.scalars(
        select(Call)
        .where(Call.practice_id == call.practice_id, Call.from_number == call.from_number, Call.id != call.id,
               Call.created_at <= call.created_at)
        .order_by(Call.created_at.desc(), Call.id.desc())
        .limit(limit)
    ))
    messages: dict[int, list[dict]] = {c.id: [] for c in earlier}
    if earlier:
        rows = session.scalars(
            select(Message).where(Message.call_id.in_(list(messages))).order_by(Message.created_at)
        )
        for m in rows:
            messages[m.call_id].append({"at": _iso(m.created_at), "urgency": m.urgency,
                                        "caller_name": m.caller_name, "body": m.body})
    return [{"id": c.id, "at": _iso(c.created_at), "reason": c.reason, "disposition": c.disposition,
             "outcome": c.outcome, "notes": c.notes, "messages": messages[c.id]} for c in earlier]


def keep_place_callback(session: Session, call: Call) -> CallbackTask | None:
    """The patient's keep-my-place callback, if this call is one (taking it calls the patient)."""
    task = calls.keep_place_task(session, call)
    return task if task is not None and task.keeps_place else None


def unreached_callback(session: Session, call: Call) -> CallbackTask | None:
    """A keep-my-place callback the agent dialled and the patient did not answer (the task is open again)."""
    task = keep_place_callback(session, call)
    if task is not None and task.status == "open" and call.state not in IN_LINE:
        return task
    return None


def call_view(session: Session, call: Call) -> dict:
    """Everything the agent needs while talking to this caller."""
    practice = call.practice
    task = keep_place_callback(session, call)
    return {
        "id": call.id,
        "state": call.state,
        "practice": {"id": practice.id, "name": practice.name, "instructions": practice.instructions or ""}
        if practice else None,
        "caller": call.from_number,
        # We call the patient at the number they gave; while it rings the agent waits for them to answer.
        "callback": {"number": task.number, "status": task.status} if task is not None else None,
        "reason": call.reason,
        "urgent": call.priority > 0,
        "queued_at": _iso(call.queued_at),
        "answered_at": _iso(call.answered_at),
        "history": caller_history(session, call),
    }


def _listed():
    """Which callbacks are on the list: all but keep-my-place ones whose caller is still in line.

    A caller who chose to keep their place is in the queue itself; once we called and they did
    not answer, their callback joins this list so that someone tries again.
    """
    in_line = select(Call.id).where(Call.state.in_(IN_LINE))
    return or_(CallbackTask.keeps_place.is_(False), CallbackTask.call_id.not_in(in_line))


def open_callbacks(session: Session, now: datetime) -> list[dict]:
    """Callback promises nobody has kept yet, soonest due first."""
    rows = session.execute(
        select(CallbackTask, Practice.name)
        .join(Practice, Practice.id == CallbackTask.practice_id)
        .where(CallbackTask.status == "open", _listed())
        .order_by(CallbackTask.due_at, CallbackTask.id)
        .limit(CALLBACKS_LIMIT)
    ).all()
    return [{"id": task.id, "practice": name, "number": task.number, "reason": task.reason,
             "call_id": task.call_id, "due_at": _iso(task.due_at), "overdue": task.due_at <= now}
            for task, name in rows]


def voicemails_to_review(session: Session, limit: int = VOICEMAILS_LIMIT) -> list[dict]:
    """Voicemails nobody has reviewed yet: urgent first, then oldest first."""
    urgent_first = case((Message.urgency == "urgent", 0), else_=1)
    rows = session.execute(
        select(Message, Practice.name)
        .join(Practice, Practice.id == Message.practice_id)
        .where(Message.needs_review.is_(True))
        .order_by(urgent_first, Message.created_at, Message.id)
        .limit(limit)
    ).all()
    return [{"id": m.id, "practice": name, "urgency": m.urgency, "created_at": _iso(m.created_at),
             "transcription": m.transcription, "recording_url": m.recording_url, "call_id": m.call_id,
             "callback_number": m.callback_number}
            for m, name in rows]


def agent_status(session: Session, queue: CallQueue, agent: User, call: Call | None = None) -> dict:
    """Whether the agent is available, away or on a call (and whether they return to available after it)."""
    call = call if call is not None else current_call(session, agent)
    available = queue.is_available(agent.id)
    resume = queue.redis.hget(RESUME_KEY, str(agent.id)) is not None
    status = "on_call" if call is not None else ("available" if available else "away")
    return {"id": agent.id, "name": agent.name, "role": agent.role, "status": status,
            "available": available or (call is not None and resume)}


def desk_snapshot(session: Session, queue: CallQueue, agent: User, now: datetime) -> dict:
    """The whole console for one agent: queue, their status and call, open callbacks."""
    call = current_call(session, agent)
    if call is None:
        settle_presence(session, queue, agent, now)
    return {
        "me": agent_status(session, queue, agent, call),
        "queue": queue_snapshot(session, queue),
        "call": call_view(session, call) if call else None,
        "callbacks": open_callbacks(session, now),
        "voicemails": voicemails_to_review(session),
        "pages": recent_pages(session),
        "at": now.isoformat(),
    }


# Presence around a call

def set_available(session: Session, queue: CallQueue, agent: User, available: bool, now: datetime) -> None:
    """Available or away. During a call this says what the agent becomes once the call is wrapped up."""
    call = current_call(session, agent)
    if call is not None:
        if available:
            queue.redis.hset(RESUME_KEY, str(agent.id), str(call.id))
        else:
            queue.redis.hdel(RESUME_KEY, str(agent.id))
        return
    if available:
        queue.agent_available(agent.id, now)
    else:
        queue.agent_unavailable(agent.id)


def settle_presence(session: Session, queue: CallQueue, agent: User, now: datetime) -> None:
    """The agent's call left their desk without a wrap-up from this console: decide their presence.

    A caller who hung up, or a colleague who wrapped up, returns the agent to available. A call
    that went back to the queue because the agent did not answer leaves them away.
    """
    call_id = queue.redis.hget(RESUME_KEY, str(agent.id))
    if call_id is None:
        return
    queue.redis.hdel(RESUME_KEY, str(agent.id))
    call = session.get(Call, int(call_id))
    if call is None or call.agent_id == agent.id:
        queue.agent_available(agent.id, now)


# Operations

def take_call(session: Session, queue: CallQueue, gateway: TwilioGateway, call_id: int, agent: User,
              connect_url: str, now: datetime) -> Call:
    """Take a waiting call for this agent (see `calls.take`); an available agent comes back afterwards."""
    if current_call(session, agent) is not None:
        raise DeskError("Finish your current call before taking another.")
    was_available = queue.is_available(agent.id)
    try:
        call = calls.take(session, queue, gateway, call_id, agent, connect_url)
    except calls.RoutingError:
        if was_available:
            queue.agent_available(agent.id, now)
        raise
    if was_available:
        queue.redis.hset(RESUME_KEY, str(agent.id), str(call.id))
    # The agent is about to see the caller's number and history.
    session.add(AuditEntry(user_id=agent.id, action="view", object_type="call", object_id=call.id))
    return call


def hang_up(session: Session, gateway: TwilioGateway, call_id: int, agent: User, goodbye_url: str) -> Call:
    """End the conversation: the caller's line fetches the goodbye TwiML and hangs up."""
    call = session.get(Call, call_id)
    if call is None or (call.agent_id != agent.id and agent.role == "agent"):
        raise DeskError("This is not your call.")
    if call.state == "connecting":
        raise DeskError("The caller is not connected yet.")
    if call.state != "connected":
        raise DeskError("The caller has already hung up.")
    try:
        gateway.redirect_call(call.call_sid, goodbye_url)
    except GatewayError:
        raise DeskError("Could not end the call; the caller may already have hung up. Try again.") from None
    ledger.record(session, call, "agent_hung_up", {"agent": agent.id}, actor_id=agent.id)
    return call


def finish_call(session: Session, queue: CallQueue, call_id: int, agent: User, now: datetime, *,
                disposition: str, notes: str = "", message: str = "", caller_name: str = "",
                callback_number: str = "", urgency: str = "routine") -> Message | None:
    """Wrap up the agent's call (see `calls.wrap_up`); the agent's presence is restored."""
    call = session.get(Call, call_id)
    if call is None:
        raise DeskError("This call no longer exists.")
    task = keep_place_callback(session, call)
    if task is not None and call.state == "connecting":
        raise DeskError("The patient's phone is still ringing. Wait until they answer or the call ends.")
    if task is not None and unreached_callback(session, call) is not None:
        _note_unreached_callback(session, call, agent, disposition, notes, message)
        if call.agent_id == agent.id:
            settle_presence(session, queue, agent, now)
        return None
    message = (message or "").strip()
    if disposition == "message_taken" and not message:
        raise DeskError("Write the message for the practice, or choose another disposition.")
    number = (callback_number or "").strip()
    if number:
        try:
            number = normalize_number(number)
        except AccountError:
            raise DeskError("The callback number does not look like a phone number.") from None
    saved = calls.wrap_up(session, call, agent, disposition, notes, message=message or None,
                          caller_name=caller_name, callback_number=number or None, urgency=urgency)
    if call.agent_id == agent.id:
        settle_presence(session, queue, agent, now)
    return saved


def _note_unreached_callback(session: Session, call: Call, agent: User, disposition: str, notes: str,
                             message: str) -> None:
    """The agent's notes on a callback the patient did not answer. The callback itself stays open
    (on the list of callbacks to make): nobody has reached the patient yet."""
    if disposition not in calls.DISPOSITIONS:
        raise DeskError(f"Choose a disposition ({', '.join(calls.DISPOSITIONS)}).")
    if call.agent_id != agent.id and agent.role == "agent":
        raise DeskError("This call belongs to another agent.")
    if (message or "").strip():
        raise DeskError("The patient did not answer, so there is no message to save. "
                        "Add a note instead; the callback stays on the list.")
    call.disposition = disposition
    call.notes = (notes or "").strip()[:5000] or call.notes
    ledger.record(session, call, "wrapped_up", {"disposition": disposition, "message": False, "reached": False},
                  actor_id=agent.id)


def complete_callback(session: Session, task_id: int, agent: User, now: datetime) -> CallbackTask:
    """Mark a callback done; exactly one of two agents completing it at once succeeds."""
    done = session.execute(
        update(CallbackTask)
        .where(CallbackTask.id == task_id, CallbackTask.status == "open", _listed())
        .values(status="done", completed_at=now, completed_by_id=agent.id)
        .execution_options(synchronize_session=False)
    )
    task = session.get(CallbackTask, task_id)
    if task is None:
        raise DeskError("This callback no longer exists.")
    if done.rowcount != 1:
        if task.status == "open" and task.keeps_place:
            raise DeskError("This patient is waiting in the queue; take them from there.")
        raise DeskError("This callback has already been done.")
    session.refresh(task)
    if task.call is not None:
        ledger.set_outcome(session, task.call, "callback_completed", actor_id=agent.id)
    return task


def review_voicemail(session: Session, message_id: int, agent: User) -> Message:
    """Someone listened to the voicemail and acted on it (see `voicemail.review`); exactly once."""
    message = session.scalar(
        select(Message).where(Message.id == message_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    if message is None:
        raise DeskError("This voicemail no longer exists.")
    if not message.needs_review:
        raise DeskError("This voicemail has already been reviewed.")
    voicemail.review(session, message, agent.id)
    session.add(AuditEntry(user_id=agent.id, action="review", object_type="message", object_id=message.id))
    return message
