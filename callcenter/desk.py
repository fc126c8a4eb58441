"""The agent's desk: what one agent does between the queue and the ledger.

Operations take a session, the CallQueue, Presence and plain values, and commit nothing, except
`take_call`, which commits around its request to Twilio (see `calls.take`). What the
console shows of all this is built in `agents_ui.read_model`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from . import calls, consult, escalation, ledger, oncall, voicemail
from .accounts import AccountError, normalize_number
from .calls import Refused
from .gateway import GatewayError, TwilioGateway
from .models import AuditEntry, Call, CallbackTask, Message, OnCallPage, OnCallShift, User
from .presence import Presence
from .queue import CallQueue

# States in which a call still belongs on its agent's desk: being bridged, talking, or waiting for wrap-up.
ON_DESK = ("connecting", "connected", "completed")
# A keep-my-place callback whose call is in one of these is in the queue or with an agent, not on the list.
IN_LINE = (*calls.WAITING_STATES, *ON_DESK)
# What each disposition cannot be saved without: the practice must be able to act on it.
REQUIRED = {"message_taken": ("message", "callback_number"), "appointment": ("callback_number",)}
MISSING = {
    "message": "Write the message for the practice, or choose another disposition.",
    "callback_number": "Add the number the practice should call back, or choose another disposition.",
}
NOT_READ_BACK = "Read the callback number back to the caller, then tick that they confirmed it."


# Queries

def current_call(session: Session, agent: User) -> Call | None:
    """The call on the agent's desk: taken and not yet wrapped up."""
    return session.scalar(
        select(Call).where(Call.agent_id == agent.id, Call.state.in_(ON_DESK)).order_by(Call.id.desc()).limit(1)
    )


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


def on_callback_list():
    """Which callbacks are on the list: all but keep-my-place ones whose caller is still in line.

    A caller who chose to keep their place is in the queue itself; once we called and they did
    not answer, their callback joins this list so that someone tries again.
    """
    in_line = select(Call.id).where(Call.state.in_(IN_LINE))
    return or_(CallbackTask.keeps_place.is_(False), CallbackTask.call_id.not_in(in_line))


# Presence around a call

def set_available(session: Session, presence: Presence, agent: User, available: bool, now: datetime) -> None:
    """Available or away. During a call this says what the agent becomes once the call is wrapped up."""
    call = current_call(session, agent)
    if call is not None:
        if available:
            presence.resume_after(agent.id, call.id)
        else:
            presence.stay_away_after(agent.id)
        return
    if available:
        presence.set_available(agent.id, now)
    else:
        presence.set_away(agent.id)


def settle_presence(session: Session, presence: Presence, agent: User, now: datetime) -> None:
    """The agent's call left their desk without a wrap-up from this console: decide their presence.

    A caller who hung up, or a colleague who wrapped up, returns the agent to available. A call
    that went back to the queue because the agent did not answer leaves them away.
    """
    call_id = presence.pop_resume(agent.id)
    if call_id is None:
        return
    call = session.get(Call, call_id)
    if call is None or call.agent_id == agent.id:
        presence.set_available(agent.id, now)


def settle_if_free(session: Session, presence: Presence, agent: User, now: datetime) -> Call | None:
    """The call on the agent's desk; with none, their presence is settled (see `settle_presence`)."""
    call = current_call(session, agent)
    if call is None:
        settle_presence(session, presence, agent, now)
    return call


# Operations

def take_call(session: Session, queue: CallQueue, presence: Presence, gateway: TwilioGateway, call_id: int,
              agent: User, connect_url: str, now: datetime) -> Call:
    """Take a waiting call for this agent (see `calls.take`); an available agent comes back afterwards."""
    if current_call(session, agent) is not None:
        raise Refused("Finish your current call before taking another.")
    was_available = presence.is_available(agent.id)
    try:
        call = calls.take(session, queue, presence, gateway, call_id, agent, connect_url)
    except Refused:
        if was_available:
            presence.set_available(agent.id, now)
        raise
    if was_available:
        presence.resume_after(agent.id, call.id)
    # The agent is about to see the caller's number and history.
    session.add(AuditEntry(user_id=agent.id, action="view", object_type="call", object_id=call.id,
                           practice_id=call.practice_id))
    return call


def hang_up(session: Session, gateway: TwilioGateway, call_id: int, agent: User, goodbye_url: str) -> Call:
    """End the conversation: the caller's line fetches the goodbye TwiML and hangs up."""
    call = session.get(Call, call_id)
    if call is None or (call.agent_id != agent.id and agent.role == "agent"):
        raise Refused("This is not your call.")
    if call.state == "connecting":
        raise Refused("The caller is not connected yet.")
    if call.state != "connected":
        raise Refused("The caller has already hung up.")
    try:
        gateway.redirect_call(calls.live_leg(session, call), goodbye_url)
    except GatewayError:
        raise Refused("Could not end the call; the caller may already have hung up. Try again.") from None
    ledger.record(session, call, "agent_hung_up", {"agent": agent.id}, actor_id=agent.id)
    if call.hold in consult.HELD:
        # The agent waits in their own room, perhaps with the clinician: those lines end too.
        call.hold = "ended"
        session.commit()  # before Twilio reports the agent's leg ended: nobody is left on hold
        for leg in (call.consult_call_sid, call.agent_leg_sid):
            consult.end_quietly(gateway, leg)
    return call


def transfer_to_on_call(session: Session, gateway: TwilioGateway, call_id: int, agent: User, transfer_url: str,
                        now: datetime) -> OnCallShift:
    """Cold transfer: the patient's line is put through to the clinician on call now (by the schedule);
    the agent wraps up. An unanswered clinician leaves the patient an urgent voicemail, as the IVR does."""
    call = session.get(Call, call_id)
    if call is None or (call.agent_id != agent.id and agent.role == "agent"):
        raise Refused("This is not your call.")
    if call.state != "connected":
        raise Refused("The caller is not connected, so there is nobody to transfer.")
    shift = oncall.current_shift(session, call.practice_id, now) if call.practice_id is not None else None
    if shift is None:
        raise Refused("Nobody is on call for this practice now. Take an urgent message instead.")
    try:
        gateway.redirect_call(calls.live_leg(session, call), transfer_url)
    except GatewayError:
        raise Refused("Could not transfer the call; the caller may have hung up. Try again.") from None
    ledger.record(session, call, "transferred_to_on_call",
                  {"shift": shift.id, "clinician": shift.clinician_name, "by": agent.id, "mode": "cold"},
                  actor_id=agent.id)
    return shift


def finish_call(session: Session, presence: Presence, call_id: int, agent: User, now: datetime, *,
                disposition: str, notes: str = "", message: str = "", caller_name: str = "",
                callback_number: str = "", urgency: str = "routine",
                callback_confirmed: bool = False) -> Message | None:
    """Wrap up the agent's call (see `calls.wrap_up`); the agent's presence is restored."""
    call = session.get(Call, call_id)
    if call is None:
        raise Refused("This call no longer exists.")
    task = keep_place_callback(session, call)
    if task is not None and call.state == "connecting":
        raise Refused("The patient's phone is still ringing. Wait until they answer or the call ends.")
    if task is not None and unreached_callback(session, call) is not None:
        _note_unreached_callback(session, call, agent, disposition, notes, message)
        if call.agent_id == agent.id:
            settle_presence(session, presence, agent, now)
        return None
    message = (message or "").strip()
    number = (callback_number or "").strip()
    given = {"message": message, "callback_number": number}
    for field in REQUIRED.get(disposition, ()):
        if not given[field]:
            raise Refused(MISSING[field])
    if number and disposition in REQUIRED and not callback_confirmed:
        raise Refused(NOT_READ_BACK)
    if number:
        try:
            number = normalize_number(number)
        except AccountError:
            raise Refused("The callback number does not look like a phone number.") from None
    saved = calls.wrap_up(session, call, agent, disposition, notes, message=message or None,
                          caller_name=caller_name, callback_number=number or None, urgency=urgency)
    if call.agent_id == agent.id:
        settle_presence(session, presence, agent, now)
    return saved


def _note_unreached_callback(session: Session, call: Call, agent: User, disposition: str, notes: str,
                             message: str) -> None:
    """The agent's notes on a callback the patient did not answer. The callback itself stays open
    (on the list of callbacks to make): nobody has reached the patient yet."""
    if disposition not in calls.DISPOSITIONS:
        raise Refused(f"Choose a disposition ({', '.join(calls.DISPOSITIONS)}).")
    if call.agent_id != agent.id and agent.role == "agent":
        raise Refused("This call belongs to another agent.")
    if (message or "").strip():
        raise Refused("The patient did not answer, so there is no message to save. "
                        "Add a note instead; the callback stays on the list.")
    call.disposition = disposition
    call.notes = (notes or "").strip()[:5000] or call.notes
    ledger.record(session, call, "wrapped_up", {"disposition": disposition, "message": False, "reached": False},
                  actor_id=agent.id)


def handle_page(session: Session, page_id: int, supervisor: User, now) -> OnCallPage:
    """A supervisor owns an urgent page nobody acknowledged: its escalation stops with them."""
    if supervisor.role not in ("supervisor", "admin"):
        raise Refused("Only a supervisor can take over an unacknowledged page.")
    page = session.get(OnCallPage, page_id)
    if page is None:
        raise Refused("This page no longer exists.")
    if not escalation.acknowledge(session, page, f"supervisor {supervisor.name}", now, actor_id=supervisor.id):
        raise Refused(f"It was acknowledged already ({page.acknowledged_by}).")
    return page


def take_over_wrap_up(session: Session, call_id: int, supervisor: User) -> Call:
    """A supervisor owns a call whose agent never wrapped it up: it moves to the supervisor's desk."""
    if supervisor.role not in ("supervisor", "admin"):
        raise Refused("Only a supervisor can take over a wrap-up.")
    call = session.get(Call, call_id)
    if call is None:
        raise Refused("This call no longer exists.")
    if call.state != "completed" or call.outcome is not None:
        raise Refused("This call has been wrapped up already.")
    if current_call(session, supervisor) is not None:
        raise Refused("Finish your current call before taking over another.")
    ledger.record(session, call, "wrap_up_taken_over", {"from": call.agent_id, "to": supervisor.id},
                  actor_id=supervisor.id)
    call.agent_id = supervisor.id
    session.add(AuditEntry(user_id=supervisor.id, action="view", object_type="call", object_id=call.id,
                           practice_id=call.practice_id))
    return call


def complete_callback(session: Session, task_id: int, agent: User, now: datetime) -> CallbackTask:
    """Mark a callback done; exactly one of two agents completing it at once succeeds."""
    done = session.execute(
        update(CallbackTask)
        .where(CallbackTask.id == task_id, CallbackTask.status == "open", on_callback_list())
        .values(status="done", completed_at=now, completed_by_id=agent.id)
        .execution_options(synchronize_session=False)
    )
    task = session.get(CallbackTask, task_id)
    if task is None:
        raise Refused("This callback no longer exists.")
    if done.rowcount != 1:
        if task.status == "open" and task.keeps_place:
            raise Refused("This patient is waiting in the queue; take them from there.")
        raise Refused("This callback has already been done.")
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
        raise Refused("This voicemail no longer exists.")
    if not message.needs_review:
        raise Refused("This voicemail has already been reviewed.")
    voicemail.review(session, message, agent.id)
    session.add(AuditEntry(user_id=agent.id, action="review", object_type="message", object_id=message.id,
                           practice_id=message.practice_id))
    return message
