"""Demonstration data: two practices, their staff, agents, and a little call history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import ledger
from .accounts import create_practice, create_user
from .models import BusinessHours, Call, Message, OnCallPage, OnCallShift, PracticeNumber, User

DEMO_PASSWORD = "demo-password"
PRACTICES = [
    ("Maple Street Family Medicine", "+14155550101", "America/Los_Angeles",
     "Dr. Rivera is on call. Refill requests go to the nurse line, never to on-call."),
    ("Harbor Pediatrics", "+16175550102", "America/New_York",
     "Fever in a baby under 3 months: always urgent. Spanish-speaking callers welcome."),
]
ON_CALL = {"Maple Street Family Medicine": ("Dr. Ana Rivera", "+14155550199"),
           "Harbor Pediatrics": ("Dr. Sam Okafor", "+16175550199")}
AGENTS = [("alice@demo.test", "agent", "Alice"), ("bob@demo.test", "agent", "Bob"),
          ("sam@demo.test", "supervisor", "Sam")]
HISTORY = [  # (minutes ago, caller, reason, disposition, message)
    (180, "+14155550123", "message", "message_taken", "Asks for lab results from last Tuesday."),
    (95, "+14155550188", "operator", "appointment", None),
    (30, "+14155550142", "urgent", "message_taken", "Rash spreading since this morning, no fever."),
]


def load_demo(session: Session) -> Iterator[str]:
    """Create what is missing and describe what is there; running it twice changes nothing."""
    practices = []
    for name, number, tz, instructions in PRACTICES:
        row = session.scalar(select(PracticeNumber).where(PracticeNumber.number == number))
        practice = row.practice if row else create_practice(session, name, number, tz)
        practice.instructions = instructions
        _hours_and_on_call(session, practice, around_the_clock=not practices)
        practices.append(practice)
        yield f"practice {practice.id}: {practice.name}, dial {number}"
    for email, role, display in AGENTS:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = create_user(session, email, DEMO_PASSWORD, role, None, display)
        yield f"{role} login: {email} / {DEMO_PASSWORD}"
    agent = session.scalar(select(User).where(User.email == AGENTS[0][0]))
    for i, practice in enumerate(practices, start=1):
        email = f"staff{i}@demo.test"
        if session.scalar(select(User).where(User.email == email)) is None:
            create_user(session, email, DEMO_PASSWORD, "practice", practice.id, f"{practice.name} front desk")
            _history(session, practice, agent, i)
        yield f"practice login ({practice.name}): {email} / {DEMO_PASSWORD}"
        admin = f"admin{i}@demo.test"  # the practice's own admin: its settings, hours and on-call rotations too
        if session.scalar(select(User).where(User.email == admin)) is None:
            create_user(session, admin, DEMO_PASSWORD, "practice_admin", practice.id, f"{practice.name} manager")
        yield f"practice admin login ({practice.name}): {admin} / {DEMO_PASSWORD}"


def _hours_and_on_call(session: Session, practice, around_the_clock: bool) -> None:
    """Maple answers around the clock (so the demo queue works at any hour); Harbor keeps office hours.

    Each has an on-call clinician for the coming year, at a softphone number of the emulator.
    """
    if not practice.hours:
        if around_the_clock:
            practice.hours = [BusinessHours(weekday=d, opens=time(0, 0), closes=time.max) for d in range(7)]
        else:
            practice.hours = [BusinessHours(weekday=d, opens=time(8, 0), closes=time(17, 0)) for d in range(5)]
    has_shift = session.scalar(select(OnCallShift).where(OnCallShift.practice_id == practice.id))
    if has_shift is None:
        start = ledger.now().replace(minute=0, second=0, microsecond=0)
        session.add(OnCallShift(practice_id=practice.id, clinician_name=ON_CALL[practice.name][0],
                                number=ON_CALL[practice.name][1], starts_at=start - timedelta(days=1),
                                ends_at=start + timedelta(days=365)))


def _history(session: Session, practice, agent: User, salt: int) -> None:
    for minutes, caller, reason, disposition, body in HISTORY:
        start = ledger.now() - timedelta(minutes=minutes)
        call = Call(call_sid=f"CAdemo{salt:02d}{minutes:06d}{'0' * 20}", practice_id=practice.id,
                    from_number=caller, to_number=practice.numbers[0].number, state="wrapped_up",
                    reason=reason, priority=1 if reason == "urgent" else 0, agent_id=agent.id,
                    telephony_status="completed", created_at=start, queued_at=start + timedelta(seconds=40),
                    answered_at=start + timedelta(seconds=95), ended_at=start + timedelta(seconds=300),
                    duration_seconds=300, disposition=disposition, outcome="handled")
        session.add(call)
        session.flush()
        for kind, offset in (("entered_ivr", 0), ("queued", 40), ("connected", 95), ("wrapped_up", 330)):
            ledger.record(session, call, kind, {"demo": True}, at=start + timedelta(seconds=offset))
        if body:
            call.outcome = "message_taken"
            session.add(Message(practice_id=practice.id, call_id=call.id, body=body, caller_name="Demo Patient",
                                callback_number=caller, urgency="urgent" if reason == "urgent" else "routine",
                                taken_by_id=agent.id, created_at=start + timedelta(seconds=330),
                                delivered_at=start + timedelta(seconds=331)))
            if reason == "urgent":  # paged at the time, and acknowledged: the history is whole (the reconciler
                # pages an urgent message that has no page at all)
                shift = session.scalar(select(OnCallShift).where(OnCallShift.practice_id == practice.id))
                session.add(OnCallPage(practice_id=practice.id, call_id=call.id, shift_id=shift.id if shift else None,
                                       to_number=shift.number if shift else None, status="sent",
                                       sent_at=start + timedelta(seconds=332),
                                       acknowledged_at=start + timedelta(seconds=450),
                                       acknowledged_by="replied 1 to the page"))
