"""What the console shows, as JSON-ready dicts: the queue, one agent's desk, callbacks, voicemails, pages.

Reads only (the audit of what an agent is about to see is written by the desk's operations).
Every list is capped: it is pushed to every console on each change.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from callcenter import cases, consult, desk, escalation, oncall
from callcenter import worklist as unowned
from callcenter.calls import waiting_calls
from callcenter.labels import away_reason_label
from callcenter.models import Call, CallbackTask, Message, OnCallPage, Practice, User
from callcenter.offers import Offer, Offers
from callcenter.presence import Presence
from callcenter.queue import CallQueue

SNAPSHOT_LIMIT = 100
HISTORY_LIMIT = 10
CALLBACKS_LIMIT = 200
VOICEMAILS_LIMIT = 200
PAGES_LIMIT = 10


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def mask_number(number: str | None) -> str:
    """A caller's number as the queue list shows it: enough to recognise, not to dial."""
    digits = [c for c in (number or "") if c.isdigit()]
    return "•••" + "".join(digits[-4:]) if len(digits) >= 7 else "withheld"


def queue_snapshot(session: Session, queue: CallQueue, presence: Presence, offers: Offers | None = None) -> dict:
    """The waiting queue in answer order, for every console.

    A caller who chose to keep their place and be called back is still in line (state
    `callback_waiting`); their row says so (`callback: true`, with the masked number they asked
    to be called at), because taking it makes the app call the patient.
    """
    now = datetime.now(UTC)
    # Every change is broadcast to every console: the list is capped so that a long queue does not
    # make each change pay for rendering all the others. `total` says how many wait.
    calls = waiting_calls(session, queue, SNAPSHOT_LIMIT)
    callback_ids = [c.id for c in calls if c.state == "callback_waiting"]
    numbers = dict(session.execute(
        select(CallbackTask.call_id, CallbackTask.number).where(CallbackTask.call_id.in_(callback_ids))
    ).all()) if callback_ids else {}
    ringing = offers.ringing() if offers is not None else {}
    ringing_agents = sorted(set(ringing.values()))
    names = {u.id: u.name for u in session.scalars(select(User).where(User.id.in_(ringing_agents)))} \
        if ringing_agents else {}
    waiting = []
    for position, call in enumerate(calls, start=1):
        callback = call.state == "callback_waiting"
        waiting.append({
            "id": call.id,
            "position": position,
            "practice": call.practice.name if call.practice else None,
            "reason": call.reason,
            "urgent": call.priority > 0,
            "caller": mask_number(call.from_number),
            "callback": callback,
            "callback_number": mask_number(numbers.get(call.id)) if callback else None,
            "waiting_seconds": int((now - call.queued_at).total_seconds()) if call.queued_at else 0,
            # Whose console this call is ringing on now, if any.
            "ringing": names.get(ringing[call.id], "an agent") if call.id in ringing else None,
        })
    return {"waiting": waiting, "total": len(queue), "available_agents": presence.available_agents(),
            "at": now.isoformat()}


FLOOR_LIMIT = 200


def floor(session: Session, presence: Presence) -> list[dict]:
    """Every agent with a known state: name, state, reason and since when, longest in their state first.

    The supervisors' view (their `floor` push): the queue every console gets names only the agents a
    caller rings, so that a floor of hundreds of agents does not ride on every queue change to each."""
    states = presence.states()
    if not states:
        return []
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(list(states)[:FLOOR_LIMIT])))}
    rows = []
    for agent_id, (state, reason, since) in states.items():
        user = users.get(agent_id)
        if user is None:
            continue
        rows.append({"id": agent_id, "name": user.name, "state": state, "reason": reason,
                     "since": datetime.fromtimestamp(since, UTC).isoformat()})
    rows.sort(key=lambda r: r["since"])
    return rows


def offer_view(session: Session, offer: Offer, now: datetime) -> dict:
    """What rings on the agent's console: practice, reason, urgency, how long the caller has waited."""
    call = session.get(Call, offer.call_id)
    # Only a caller who kept their place has a callback to show; only a repeat caller (recognised when
    # they queued) an open case: the ring of everyone else reads nothing more.
    task = desk.keep_place_callback(session, call) if call is not None and call.state == "callback_waiting" \
        else None
    return {
        "offer_id": offer.id,
        "call_id": offer.call_id,
        "practice": call.practice.name if call is not None and call.practice else None,
        "reason": call.reason if call is not None else None,
        "urgent": bool(call is not None and call.priority > 0),
        "language": call.language if call is not None else "en",
        "callback": task is not None,
        "waiting_seconds": int((now - call.queued_at).total_seconds()) if call is not None and call.queued_at else 0,
        "expires_at": datetime.fromtimestamp(offer.expires, UTC).isoformat(),
        # Just made: it rings for its whole time; seen again later (a snapshot): for what is left of it.
        "ring_seconds": round(offer.ring_seconds) if offer.ring_seconds is not None
        else max(0, round(offer.expires - now.timestamp())),
        "assigned": offer.directed,
        "repeat_caller": bool(call is not None and call.repeat_caller),
        "open_case": cases.open_case(session, call.practice_id, call.from_number, call.id)
        if call is not None and call.repeat_caller else None,
    }


def away_notice(name: str, reason: str) -> str:
    if reason == "missed_offers":
        return f"{name} missed three offered calls in a row and has been set away."
    if reason == "offline":
        return f"{name}'s console went offline; they have been set away."
    return f"{name} is away ({away_reason_label(reason)})."


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


def call_view(session: Session, call: Call) -> dict:
    """Everything the agent needs while talking to this caller."""
    practice = call.practice
    task = desk.keep_place_callback(session, call)
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
        "ended_at": _iso(call.ended_at),
        # What is still owed to this number (a callback, a voicemail to review): this call may settle it.
        "open_case": cases.open_case(session, call.practice_id, call.from_number, call.id),
        "repeat_caller": call.repeat_caller,
        "on_call_now": _on_call_now(session, call),
        # Hold and consult (callcenter/consult.py): on hold or not, and the clinician being consulted.
        "on_hold": call.hold in consult.HELD,
        "can_hold": call.state == "connected" and bool(call.agent_leg_sid) and call.hold in (*consult.TALKING,
                                                                                          *consult.HELD),
        "consult": {"clinician": consult.consulted_clinician(call), "status": call.consult_status}
        if call.consult_ref else None,
        "history": caller_history(session, call),
    }


def _on_call_now(session: Session, call: Call) -> dict | None:
    """The clinician on call for the call's practice now, by the schedule (not the free-text instructions)."""
    shift = oncall.current_shift(session, call.practice_id, datetime.now(UTC)) if call.practice_id else None
    return {"name": shift.clinician_name, "until": _iso(shift.ends_at)} if shift is not None else None


def open_callbacks(session: Session, now: datetime) -> list[dict]:
    """Callback promises nobody has kept yet, soonest due first."""
    rows = session.execute(
        select(CallbackTask, Practice.name)
        .join(Practice, Practice.id == CallbackTask.practice_id)
        .where(CallbackTask.status == "open", desk.on_callback_list())
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
             "transcription": m.transcription, "call_id": m.call_id,
             "callback_number": m.callback_number,
             # Played through the app (authorised, audited), never straight from Twilio's address.
             "recording_url": f"/console/voicemails/{m.id}/recording" if m.recording_url else None}
            for m, name in rows]


def recent_pages(session: Session, limit: int = PAGES_LIMIT) -> list[dict]:
    """The latest on-call pages for the console: practice, status, time; no patient data. Pages that
    wait for a supervisor come first and stay listed, however many pages came after them."""
    base = select(OnCallPage, Practice.name).join(Practice, Practice.id == OnCallPage.practice_id)
    waiting = session.execute(
        base.where(OnCallPage.acknowledged_at.is_(None), OnCallPage.escalation_step >= escalation.SUPERVISORS)
        .order_by(OnCallPage.sent_at.desc(), OnCallPage.id.desc()).limit(100)).all()
    latest = session.execute(base.order_by(OnCallPage.sent_at.desc(), OnCallPage.id.desc()).limit(limit)).all()
    shown = {page.id for page, _ in waiting}
    rows = waiting + [(page, name) for page, name in latest if page.id not in shown]
    return [{"id": page.id, "practice": name, "status": page.status, "sent_at": _iso(page.sent_at),
             "acknowledged_by": page.acknowledged_by, "acknowledged_at": _iso(page.acknowledged_at),
             "escalation": escalation_word(page)}
            for page, name in rows]


def escalation_word(page: OnCallPage) -> str | None:
    """Where an unacknowledged page's escalation stands (callcenter/escalation.py), for people."""
    if page.acknowledged_at is not None:
        return None
    if escalation.needs_supervisor(page):
        return "needs_supervisor"
    if page.recipient == "backup":
        return "backup"
    if page.escalation_step == escalation.BACKUP:
        return "handed_to_backup"
    return "called_down" if page.escalation_step == escalation.CALLED_DOWN else "waiting"


def agent_status(presence: Presence, agent: User, call: Call | None, offer: Offer | None = None,
                 now: datetime | None = None) -> dict:
    """The agent's state (available, ringing, on a call, wrap-up, away with a reason), since when, and
    whether they return to available after their call."""
    now = now or datetime.now(UTC)
    available = presence.is_available(agent.id)
    noted = presence.state_of(agent.id)
    reason = None
    if call is not None:
        state = "wrap_up" if call.state == "completed" else "on_call"
    elif offer is not None:
        state = "ringing"
    elif available:
        state = "available"
    else:
        state = "away"
        reason = noted[1] if noted is not None and noted[0] == "away" else None
    since = _since(presence, agent, state, noted, call, offer, now)
    # `status` is the coarse word older consoles and the simulator read: on_call covers wrap-up too.
    status = "on_call" if call is not None else ("available" if available else "away")
    return {"id": agent.id, "name": agent.name, "role": agent.role, "status": status, "state": state,
            "reason": reason, "since": datetime.fromtimestamp(since, UTC).isoformat(),
            "available": available or (call is not None and presence.resumes(agent.id))}


def _since(presence: Presence, agent: User, state: str, noted, call: Call | None, offer: Offer | None,
           now: datetime) -> float:
    """When the agent's state began: from the facts that say so, else from when it was last noted."""
    if state == "wrap_up" and call is not None and call.ended_at is not None:
        return call.ended_at.timestamp()
    if state == "available":
        since = presence.available_since(agent.id)
        if since is not None:
            return since
    if state == "ringing" and offer is not None and offer.ring_seconds is None and noted and noted[0] == "ringing":
        return noted[2]
    if noted is not None and noted[0] == state:
        return noted[2]
    return now.timestamp()


def desk_view(session: Session, presence: Presence, offers: Offers, agent: User, call: Call | None,
              now: datetime | None = None) -> dict:
    """What is one agent's own on their console: their state, the call ringing, the call on their desk."""
    now = now or datetime.now(UTC)
    offer = offers.of_agent(agent.id) if call is None else None
    return {"me": agent_status(presence, agent, call, offer, now),
            "offer": offer_view(session, offer, now) if offer is not None else None,
            "call": call_view(session, call) if call else None}


WORKLIST_LIMIT = 100


def worklist(session: Session) -> list[dict]:
    """Calls a supervisor must own: wrap-ups past the after-call work limit, and calls nobody owns
    (callcenter/worklist.py), urgent ones first. No patient data: the practice, why, and since when."""
    from callcenter.models import CallEvent

    rows = session.execute(
        select(Call, Practice.name, User)
        .join(CallEvent, (CallEvent.call_id == Call.id) & (CallEvent.kind == "wrap_up_overdue"))
        .join(Practice, Practice.id == Call.practice_id)
        .join(User, User.id == Call.agent_id)
        .where(Call.outcome.is_(None))
        .order_by(Call.ended_at).limit(WORKLIST_LIMIT)
    ).all()
    items = [{"call_id": call.id, "practice": name, "agent": agent.name, "agent_id": agent.id,
              "reason": call.reason, "ended_at": _iso(call.ended_at), "kind": "wrap_up_overdue",
              "urgent": call.priority > 0}
             for call, name, agent in rows]
    items += [{"kind": "unowned", "item_id": item.id, "call_id": item.call_id,
               "practice": item.practice.name if item.practice else "A practice", "reason": item.reason,
               "why": unowned.REASONS.get(item.reason, item.reason), "urgent": item.urgent,
               "raised_at": _iso(item.raised_at), "owner": item.owner.name if item.owner else None,
               "owner_id": item.owner_id}
              for item in unowned.open_items(session, WORKLIST_LIMIT)]
    return sorted(items, key=lambda item: not item["urgent"])  # stable: each kind keeps its own order


def overdue_notice(session: Session, call_id: int) -> str:
    call = session.get(Call, call_id)
    if call is None:
        return "A call is waiting for its wrap-up."
    who = call.agent.name if call.agent is not None else "An agent"
    where = call.practice.name if call.practice is not None else "a practice"
    return f"{who} has not wrapped up a call for {where} within the after-call work limit. It is on the worklist."
