"""The call ledger: every call gets a row on its first webhook and an append-only list of events.

A call's `state` only moves forward (see STATE_RANK). Two sanctioned steps back, each recorded as
its own event: a re-queue after a connection attempt to an agent failed (`requeued`), and a caller
the queue had no room for going on to the message path (`queue_full`).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import Call, CallEvent

STATE_RANK = {
    "ivr": 0,
    "queued": 10,
    # Hung up on purpose to be called back; the place in the queue is kept.
    "callback_waiting": 15,
    "connecting": 20,
    "connected": 30,
    "on_call": 30,  # put through to the on-call clinician
    # Terminal telephony states: the line is down. What remains is the owned outcome.
    "completed": 40,
    "abandoned": 40,
    "voicemail": 40,
    "wrapped_up": 50,
}

TELEPHONY_RANK = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "answered": 3,
    "busy": 4,
    "failed": 4,
    "no-answer": 4,
    "canceled": 4,
    "completed": 4,
}
TERMINAL_TELEPHONY = {"busy", "failed", "no-answer", "canceled", "completed"}

# Outcomes that close the "no call is missed" promise for a call.
OWNED_OUTCOMES = {"handled", "message_taken", "callback_completed", "voicemail_reviewed", "oncall", "not_ours",
                  "resolved_by_supervisor"}


def now() -> datetime:
    return datetime.now(UTC)


@functools.cache
def _first_webhook_statements(dialect: str):
    """The two INSERTs of a call's first webhook, built once per dialect (their values are parameters)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    calls, events = Call.__table__, CallEvent.__table__
    new_call = (insert(calls).values(state="ivr", priority=0, language="en", after_hours=False,
                                     emergency_words=False, last_sequence=-1)
                .on_conflict_do_nothing(index_elements=["call_sid"]).returning(calls.c.id))
    first_event = insert(events).on_conflict_do_nothing(index_elements=["call_id", "dedupe_key"])
    return new_call, first_event


def open_call_row(
    session: Session,
    call_sid: str,
    *,
    practice_id: int | None,
    from_number: str | None,
    to_number: str | None,
    direction: str = "inbound",
    first_event: str | None = None,
) -> tuple[int, bool]:
    """Record a call's first webhook: two INSERTs, no ORM, no savepoint. The call's id, and whether it is new.

    A retry of the same webhook (same CallSid) inserts nothing and finds the row already there.
    """
    at = now()
    new_call, event = _first_webhook_statements(session.get_bind().dialect.name)
    call_id = session.execute(new_call, {"call_sid": call_sid, "practice_id": practice_id, "from_number": from_number,
                                         "to_number": to_number, "direction": direction, "created_at": at}).scalar()
    new = call_id is not None
    if not new:
        call_id = session.scalar(select(Call.id).where(Call.call_sid == call_sid))
    if first_event:
        session.execute(event, {"call_id": call_id, "kind": first_event, "data": {}, "dedupe_key": first_event,
                                "at": at, "actor_id": None})
    return call_id, new


def open_call(
    session: Session,
    call_sid: str,
    *,
    practice_id: int | None,
    from_number: str | None,
    to_number: str | None,
    direction: str = "inbound",
    first_event: str | None = None,
) -> Call:
    """Return the call for `call_sid`, creating its row (and `first_event`) on the first webhook."""
    call_id, _ = open_call_row(session, call_sid, practice_id=practice_id, from_number=from_number,
                               to_number=to_number, direction=direction, first_event=first_event)
    return session.get(Call, call_id)


def find_call(session: Session, call_sid: str) -> Call | None:
    return session.scalar(select(Call).where(Call.call_sid == call_sid))


@functools.cache
def _event_insert(dialect: str):
    """An event's INSERT, skipping one whose dedupe key the call has seen (built once per dialect)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    events = CallEvent.__table__
    return (insert(events).on_conflict_do_nothing(index_elements=["call_id", "dedupe_key"])
            .returning(events.c.id))


def record(
    session: Session,
    call: Call,
    kind: str,
    data: dict | None = None,
    *,
    actor_id: int | None = None,
    dedupe_key: str | None = None,
    at: datetime | None = None,
) -> bool | None:
    """Append an event to the call (True); with a `dedupe_key` seen before, append nothing and return None.

    One INSERT, no savepoint: a retried webhook's duplicate is skipped by the database itself.
    """
    inserted = record_for(session, call.id, kind, data, actor_id=actor_id, dedupe_key=dedupe_key, at=at)
    if "events" in call.__dict__:  # a list already loaded in this session is read again when next used
        session.expire(call, ["events"])
    return inserted


def record_for(session: Session, call_id: int, kind: str, data: dict | None = None, *,
               actor_id: int | None = None, dedupe_key: str | None = None, at: datetime | None = None) -> bool | None:
    """`record` for a call known by its id only (the offer loop's events)."""
    inserted = session.execute(
        _event_insert(session.get_bind().dialect.name),
        {"call_id": call_id, "kind": kind, "data": data or {}, "actor_id": actor_id, "dedupe_key": dedupe_key,
         "at": at or now()},
    ).first()  # the new event's id; nothing when the dedupe key was seen
    return True if inserted is not None else None


def advance(call: Call, state: str) -> bool:
    """Move the call to `state` if that is a step forward; return whether it moved."""
    if STATE_RANK[state] <= STATE_RANK[call.state]:
        return False
    call.state = state
    return True


def requeue(session: Session, call: Call, why: str, to_state: str = "queued") -> None:
    """Put a call whose connection to an agent failed back in the waiting state."""
    if call.state not in ("connecting", "connected"):
        return
    record(session, call, "requeued", {"why": why})
    call.state = to_state
    call.agent_id = None


def apply_status(
    session: Session, call: Call, status: str, sequence: int | None, duration: int | None
) -> bool:
    """Record a Twilio status callback; duplicates and late arrivals change nothing.

    Returns True when this callback was news (first time the line reached a terminal status).
    """
    key = f"status:{status}"
    event = record(session, call, "status", {"status": status, "sequence": sequence}, dedupe_key=key)
    if event is None:
        return False
    if sequence is not None and sequence > call.last_sequence:
        call.last_sequence = sequence
    current = TELEPHONY_RANK.get(call.telephony_status or "queued", 0)
    incoming = TELEPHONY_RANK.get(status, 0)
    if incoming > current:
        call.telephony_status = status
    if duration is not None and call.duration_seconds is None:
        call.duration_seconds = duration
    if status in TERMINAL_TELEPHONY and call.ended_at is None:
        call.ended_at = now()
        return True
    return False


def set_outcome(session: Session, call: Call, outcome: str, *, actor_id: int | None = None) -> None:
    """Give the call its owned outcome (first one wins; later ones are recorded but do not replace it)."""
    assert outcome in OWNED_OUTCOMES, outcome
    record(session, call, "outcome", {"outcome": outcome}, actor_id=actor_id)
    if call.outcome is None:
        call.outcome = outcome
