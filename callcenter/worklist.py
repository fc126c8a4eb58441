"""The supervisors' worklist: calls nobody owns.

Every call must end in an owned outcome. Most calls that end without one yet are on a list that
someone works: a callback owed (the callbacks list), a voicemail to review, a page escalating until a
clinician or a supervisor acknowledges it, an agent's wrap-up (raised on its own once past the after-call
work limit). A call on none of those lists a minute after it ended, one stuck in the IVR or on its
way to an agent, and a callback promised by text that is about to be late, are raised here by the
reconciler (`raise_unowned`, every round): once, with the reason, urgent callers first. A supervisor
takes it (`take`), does what is needed, and says what was done (`resolve`); the call's outcome is then
"resolved by a supervisor" (a callback made meanwhile takes it off the list by itself). Every step is
a ledger event.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, selectinload

from . import ledger
from .callbacks import callable_number
from .calls import Refused
from .models import Call, CallbackTask, Message, OnCallPage, User, WorklistItem

UNOWNED_AFTER = timedelta(minutes=1)  # a call on no list this long after it ended is raised
LOOK_BACK = timedelta(days=2)
STUCK_AFTER = {True: timedelta(minutes=10), False: timedelta(minutes=30)}  # urgent, routine: still not ended
PROMISE_WARNING = timedelta(minutes=5)  # a callback promised by text and due this soon, not yet made
PER_ROUND = 200
SUPERVISORS = ("supervisor", "admin")

REASONS = {
    "no_outcome": "ended without an outcome, and on no list",
    "no_number_to_call_back": "hung up before an outcome, from a number we cannot call back",
    "stuck": "still not ended, in the IVR or on its way to an agent",
    "callback_due": "the callback we promised by text is due and not made yet",
}


def _raised(reason: str):
    return exists().where(WorklistItem.call_id == Call.id, WorklistItem.reason == reason)


def _worked_on():
    """An ended call someone already works on, a callback aside: an agent's wrap-up (raised on its own past
    the after-call work limit), a page (escalating until a clinician or a supervisor acknowledges it), a
    voicemail to review."""
    return (((Call.state == "completed") & Call.agent_id.is_not(None))
            | exists().where(OnCallPage.call_id == Call.id)
            | exists().where(Message.call_id == Call.id, Message.kind == "voicemail", Message.needs_review.is_(True)))


def _callback_owed(undialable_only: bool = False):
    """A callback owed for the call; `undialable_only`: to a number plainly not one to dial (none, withheld,
    "anonymous", a client), which the callbacks list can do nothing with."""
    owed = exists().where(CallbackTask.call_id == Call.id, CallbackTask.status != "done")
    if undialable_only:
        owed = owed.where(CallbackTask.number.is_(None) | ~CallbackTask.number.like("+%"))
    return owed


def raise_unowned(session: Session, now: datetime) -> list[WorklistItem]:
    """Raise each call nobody owns, once per reason; the new items. Commits. The query leaves out the
    calls on a list in SQL, so that however many of those there are, the unowned ones are reached."""
    raised: list[WorklistItem] = []
    unowned = (Call.practice_id.is_not(None), Call.outcome.is_(None), Call.ended_at.is_not(None),
               Call.ended_at < now - UNOWNED_AFTER, Call.ended_at > now - LOOK_BACK, ~_raised("no_outcome"),
               ~_raised("no_number_to_call_back"), ~_worked_on())
    for call in session.scalars(select(Call).where(*unowned, ~_callback_owed())
                                .order_by(Call.priority.desc(), Call.ended_at).limit(PER_ROUND)):
        raised.append(_raise(session, call, "no_outcome", now))
    # Owed a callback: the callbacks list has it, unless its number is one nobody can dial (withheld).
    for call in session.scalars(select(Call).where(*unowned, _callback_owed(undialable_only=True))
                                .order_by(Call.priority.desc(), Call.ended_at).limit(PER_ROUND)):
        task = session.scalar(select(CallbackTask).where(CallbackTask.call_id == call.id,
                                                         CallbackTask.status != "done"))
        if task is not None and callable_number(task.number) is None:
            raised.append(_raise(session, call, "no_number_to_call_back", now))
    # A promise about to be broken is raised to a person before it is: the text said "by 3:15 pm".
    promised = session.scalars(select(Call).join(CallbackTask, CallbackTask.call_id == Call.id).where(
        CallbackTask.status == "open", CallbackTask.sms_sid.is_not(None), CallbackTask.due_at <= now + PROMISE_WARNING,
        CallbackTask.due_at > now - LOOK_BACK, Call.outcome.is_(None), ~_raised("callback_due"))
        .order_by(Call.priority.desc(), CallbackTask.due_at).limit(PER_ROUND)).all()
    raised += [_raise(session, call, "callback_due", now) for call in promised]
    for urgent in (True, False):
        stuck = session.scalars(select(Call).where(
            Call.practice_id.is_not(None), Call.ended_at.is_(None), Call.state.in_(("ivr", "connecting")),
            (Call.priority > 0) if urgent else (Call.priority <= 0),
            Call.created_at < now - STUCK_AFTER[urgent], Call.created_at > now - LOOK_BACK, ~_raised("stuck"))
            .order_by(Call.created_at).limit(PER_ROUND)).all()
        raised += [_raise(session, call, "stuck", now) for call in stuck]
    session.commit()
    return raised


def _raise(session: Session, call: Call, reason: str, now: datetime) -> WorklistItem:
    item = WorklistItem(call_id=call.id, practice_id=call.practice_id, reason=reason, urgent=call.priority > 0,
                        raised_at=now)
    session.add(item)
    session.flush()
    ledger.record(session, call, "raised_to_worklist", {"item": item.id, "reason": reason},
                  dedupe_key=f"raised_to_worklist:{reason}")
    return item


def open_items(session: Session, limit: int = 100) -> list[WorklistItem]:
    """Items not resolved whose call still has no outcome (a stuck call that has ended since is gone:
    if it ended unowned it is raised again for that), urgent first, oldest first."""
    return list(session.scalars(
        select(WorklistItem).join(Call, Call.id == WorklistItem.call_id)
        .where(WorklistItem.resolved_at.is_(None), Call.outcome.is_(None),
               (WorklistItem.reason != "stuck") | Call.ended_at.is_(None))
        .options(selectinload(WorklistItem.owner), selectinload(WorklistItem.practice))
        .order_by(WorklistItem.urgent.desc(), WorklistItem.raised_at, WorklistItem.id).limit(limit)))


def _supervisor(user: User) -> None:
    if user.role not in SUPERVISORS:
        raise Refused("Only a supervisor can take a call from the worklist.")


def take(session: Session, item_id: int, supervisor: User, now: datetime) -> WorklistItem:
    """A supervisor owns the item from now on (unless another one does)."""
    _supervisor(supervisor)
    item = session.get(WorklistItem, item_id)
    if item is None or item.resolved_at is not None:
        raise Refused("This item is no longer on the worklist.")
    if item.owner_id is None:  # one of two supervisors pressing at once gets it, by one conditional UPDATE
        taken = session.execute(update(WorklistItem).where(WorklistItem.id == item.id, WorklistItem.owner_id.is_(None),
                                                           WorklistItem.resolved_at.is_(None))
                                .values(owner_id=supervisor.id, owned_at=now)
                                .execution_options(synchronize_session=False)).rowcount == 1
        session.refresh(item)
        if taken:
            ledger.record(session, session.get(Call, item.call_id), "worklist_taken", {"item": item.id},
                          actor_id=supervisor.id, dedupe_key=f"worklist_taken:{item.id}")
    if item.owner_id != supervisor.id:
        raise Refused(f"{item.owner.name} has it already.")
    return item


def resolve(session: Session, item_id: int, supervisor: User, note: str, now: datetime) -> WorklistItem:
    """The owner says what was done; the call's outcome is then theirs."""
    _supervisor(supervisor)
    item = session.get(WorklistItem, item_id)
    if item is None or item.resolved_at is not None:
        raise Refused("This item is no longer on the worklist.")
    if item.owner_id != supervisor.id:
        raise Refused("Take the item first: only its owner can say it is done.")
    note = (note or "").strip()
    if len(note) < 3:
        raise Refused("Say what was done (for example: called the patient back, no answer, left a message).")
    item.note, item.resolved_at = note[:2000], now
    call = session.get(Call, item.call_id)
    ledger.record(session, call, "worklist_resolved", {"item": item.id}, actor_id=supervisor.id,
                  dedupe_key=f"worklist_resolved:{item.id}")
    if call.outcome is None:
        ledger.set_outcome(session, call, "resolved_by_supervisor", actor_id=supervisor.id)
    # What the supervisor did settles the callback too: it leaves the agents' list, and the patient who
    # texts is no longer told it is late.
    for task in session.scalars(select(CallbackTask).where(CallbackTask.call_id == call.id,
                                                           CallbackTask.status != "done")):
        task.status, task.completed_at, task.completed_by_id = "done", now, supervisor.id
    return item
