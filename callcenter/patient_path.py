"""Where a caller goes next, and why: after the menu, after waiting, after the on-call clinician's line.

Each step decides, writes the ledger and returns an `Onward`, a plain value that the IVR speaks as
TwiML. Steps commit where a Redis write or a request to Twilio follows, so that neither waits with
the database's write lock held; the view commits what is left.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from . import calls, escalation, hours, ledger, oncall
from .gateway import TwilioGateway
from .models import Call, Practice
from .presence import Presence
from .queue import QUEUE_FULL, CallQueue
from .routing import Route, decide, estimate_wait_minutes


class Next(Enum):
    """What the caller hears and does next."""

    QUEUE = "queue"  # hold in the queue: position and an honest wait
    VOICEMAIL = "voicemail"  # leave a message for the office
    URGENT_VOICEMAIL = "urgent_voicemail"  # leave an urgent message (nobody to put them through to)
    ON_CALL = "on_call"  # put through to the on-call clinician
    AGENT = "agent"  # an agent took the call: fetch the connect TwiML
    GOODBYE = "goodbye"
    NOTHING = "nothing"  # the line is gone or already routed: an empty answer


@dataclass(frozen=True)
class Onward:
    """Where the caller goes and why, with what the IVR needs to say it."""

    next: Next
    why: str | None = None  # after_hours, no_agents, queue_full, max_wait, in_hours
    position: int | None = None
    wait_minutes: int | None = None
    on_call_number: str | None = None
    queue_changed: bool = False  # consoles should be told
    paged: bool = False  # the on-call clinician's page went out for this call (what the caller may be told)
    emergency_line: bool = False  # nobody on call: put through to the practice's own emergency line instead


# The hold loop asks these about once a minute per caller: built once, their values are parameters.
_AGENTS_ON_A_CALL = select(func.count(func.distinct(Call.agent_id))).where(
    Call.state.in_(("connecting", "connected")), Call.agent_id.is_not(None))
_HOLDER = (select(Call.id, Call.state, Call.queued_at, Call.language, Practice.max_wait_seconds)
           .join(Practice, Practice.id == Call.practice_id).where(Call.call_sid == bindparam("call_sid")))


def agents_online(session: Session, presence: Presence) -> int:
    """Agents who can answer soon: available now, or on a call that will end."""
    return presence.count_available() + int(session.scalar(_AGENTS_ON_A_CALL) or 0)


def wait_minutes(session: Session, queue: CallQueue, presence: Presence, position: int) -> int | None:
    """The honest 'about N minutes' for the caller at `position` (see `routing.estimate_wait_minutes`)."""
    return estimate_wait_minutes(position, queue.average_handle_time(), agents_online(session, presence))


KEEP_PLACE_AFTER = 120  # seconds on hold before the caller is offered a callback


@dataclass(frozen=True)
class Hold:
    """What a caller on hold hears next: where they are and the honest wait, or that their wait is over."""

    language: str
    position: int | None = None
    wait_minutes: int | None = None
    offer_keep_place: bool = False
    leave: bool = False  # waited as long as the practice allows: out of Twilio's queue, on to a message


def on_hold(session: Session, queue: CallQueue, presence: Presence, call_sid: str, now: datetime) -> Hold | None:
    """The hold loop asked for music: note that the caller is still there, and say where they are.

    The common case costs two small reads of the ledger and two Redis round trips, and holds a
    database connection only for the reads; None when the CallSid is not a waiting caller's own line
    (the view then looks further, see `calls.find_by_leg`).
    """
    row = session.execute(_HOLDER, {"call_sid": call_sid}).first()
    if row is None or row.state != "queued":
        return None
    on_a_call = int(session.scalar(_AGENTS_ON_A_CALL) or 0)
    session.commit()  # nothing written: the connection goes back to the pool before Redis is asked
    position, handle_seconds = queue.check_in(row.id, now)
    if position is None:  # Redis lost the entry (restart): the ledger puts the caller back in place
        return None
    waited = (now - row.queued_at).total_seconds() if row.queued_at else 0.0
    if waited >= row.max_wait_seconds:
        return Hold(row.language, position, leave=True)
    minutes = estimate_wait_minutes(position, handle_seconds, presence.count_available() + on_a_call)
    return Hold(row.language, position, minutes, offer_keep_place=waited >= KEEP_PLACE_AFTER)


def after_menu(session: Session, queue: CallQueue, presence: Presence, gateway: TwilioGateway, call: Call,
               practice: Practice, now: datetime) -> Onward:
    """After the menu: the queue when someone can answer, otherwise a message or the on-call clinician."""
    open_now = hours.practice_is_open(practice, now)
    call.after_hours = not open_now
    online = agents_online(session, presence)
    route, why = decide(urgent=call.priority > 0, open_now=open_now, agents_online=online,
                        queue_full=len(queue) >= queue.capacity)
    if route is Route.QUEUE:
        position = calls.queue_call(session, queue, call)
        if position != QUEUE_FULL:
            ledger.record(session, call, "routed", {"route": "queue", "why": why}, dedupe_key="routed:queue")
            return Onward(Next.QUEUE, why, position=position, queue_changed=True,
                          wait_minutes=estimate_wait_minutes(position, queue.average_handle_time(), online))
        route, why = decide(urgent=call.priority > 0, open_now=True, agents_online=1, queue_full=True)
    ledger.record(session, call, "routed", {"route": route.value, "why": why})
    if route is Route.ON_CALL:
        return to_on_call(session, gateway, call, practice, why, now)
    return Onward(Next.VOICEMAIL, why)


def to_on_call(session: Session, gateway: TwilioGateway, call: Call, practice: Practice, why: str,
               now: datetime) -> Onward:
    """Page the on-call clinician and put the caller through; with nobody on call, an urgent voicemail."""
    session.commit()  # the SMS goes out with no database write lock held
    page = oncall.page(session, gateway, practice, call, why, now)
    ledger.record(session, call, "paged_on_call", {"status": page.status, "page": page.id})
    if page.status == "sent":  # the clinician has the patient's number: the call is handed over
        ledger.set_outcome(session, call, "oncall")
    shift = oncall.current_shift(session, practice.id, now)
    if shift is None and practice.emergency_number:
        # A gap in the schedule: the practice's own emergency line, then (unanswered) an urgent voicemail;
        # the page, with nobody to page, is the supervisors' at once (callcenter/escalation.py).
        ledger.advance(call, "on_call")
        ledger.record(session, call, "gap_fallback", {"to": "practice_emergency_line"}, dedupe_key="gap_fallback")
        return Onward(Next.ON_CALL, why, on_call_number=practice.emergency_number, emergency_line=True)
    if shift is None:
        ledger.record(session, call, "gap_fallback", {"to": "supervisors"}, dedupe_key="gap_fallback")
        return Onward(Next.URGENT_VOICEMAIL, why, paged=page.status == "sent")
    ledger.advance(call, "on_call")
    ledger.record(session, call, "put_through_to_on_call", {"shift": shift.id})
    return Onward(Next.ON_CALL, why, on_call_number=shift.number)


def after_queue(session: Session, queue: CallQueue, presence: Presence, gateway: TwilioGateway, call: Call,
                result: str, now: datetime) -> Onward:
    """The caller left Twilio's queue (`QueueResult`); go on as the ledger says.

    Taken by an agent: on to the agent. Hung up, or already routed: nothing. Twilio's queue full:
    the overflow split (urgent to on-call, others a message), so nobody is sent back to it. Waited
    as long as the practice allows (or Twilio's queue failed): urgent callers to on-call, others
    leave a message.
    """
    ledger.record(session, call, "queue_exit", {"result": result})
    if call.state in ("connecting", "connected"):
        return Onward(Next.AGENT)
    if call.state != "queued" or result == "hangup":
        return Onward(Next.NOTHING)
    calls.leave_queue(session, queue, call, result or "left")
    session.commit()  # the caller is out of the queue before anyone is told or paged
    if result == "queue-full":  # Twilio's own queue had no room: the overflow split, as when ours is full
        route, why = decide(urgent=call.priority > 0, open_now=True, agents_online=1, queue_full=True)
        ledger.record(session, call, "routed", {"route": route.value, "why": why})
        onward = (to_on_call(session, gateway, call, call.practice, why, now) if route is Route.ON_CALL
                  else Onward(Next.VOICEMAIL, why))
    elif call.priority > 0:
        onward = to_on_call(session, gateway, call, call.practice, "max_wait", now)
    else:
        onward = Onward(Next.VOICEMAIL, "max_wait")
    return replace(onward, queue_changed=True)


def on_call_accepted(session: Session, call: Call, now: datetime) -> None:
    """The on-call clinician pressed 1 on answering: they take the patient, which acknowledges the page."""
    ledger.record(session, call, "on_call_accepted", {}, dedupe_key="on_call_accepted")
    escalation.acknowledge_call(session, call, "took the patient's call", now)


def after_on_call(session: Session, call: Call, dial_status: str) -> Onward:
    """The call to the on-call clinician ended; unless they took it (pressed 1), the caller leaves an
    urgent message. Twilio says `completed` for a voicemail box that answered, too."""
    ledger.record(session, call, "on_call_finished", {"status": dial_status},
                  dedupe_key=f"on_call_finished:{dial_status}")
    taken = any(event.kind == "on_call_accepted" for event in call.events)
    if dial_status in ("completed", "answered") and taken:
        ledger.advance(call, "completed")
        ledger.set_outcome(session, call, "oncall")
        return Onward(Next.GOODBYE)
    return Onward(Next.URGENT_VOICEMAIL, "on_call_unanswered", paged=oncall.was_paged(session, call.id))
