"""Helpers for the portal, API, auth and CLI tests: a browser-like login and ledger rows.

(Named like a test module so it lives with the tests it serves; it holds no tests itself.)
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

from callcenter.extensions import db
from callcenter.models import Call, CallEvent, Message
from tests.conftest import PASSWORD, PATIENT

_sids = itertools.count(1)
T0 = datetime(2026, 11, 27, 17, 5, tzinfo=UTC)  # 9:05 AM in Los Angeles, 12:05 PM in New York


def csrf_token(response) -> str:
    """The CSRF token a browser would send back, read from the page's form."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


def log_in(client, email: str, password: str = PASSWORD):
    """Log in as a browser does: fetch the form, then post it with its token."""
    form = client.get("/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(form)})


def make_call(app, practice_id: int, *, at: datetime = T0, state: str = "wrapped_up", reason: str = "message",
              priority: int = 0, agent_id: int | None = None, from_number: str = PATIENT,
              events: tuple[str, ...] = ("entered_ivr", "queued", "connected", "wrapped_up"), **fields) -> int:
    """A call in the ledger, with events a minute apart; returns its id."""
    with app.app_context():
        call = Call(call_sid=f"CA{next(_sids):032d}", practice_id=practice_id, from_number=from_number,
                    to_number="+14155550101", state=state, reason=reason, priority=priority,
                    agent_id=agent_id, created_at=at, **fields)
        db.session.add(call)
        db.session.flush()
        for i, kind in enumerate(events):
            db.session.add(CallEvent(call_id=call.id, kind=kind, at=at + timedelta(minutes=i), data={"step": i}))
        db.session.commit()
        return call.id


def make_message(app, practice_id: int, *, at: datetime = T0, call_id: int | None = None,
                 urgency: str = "routine", body: str = "Please call back about lab results.",
                 caller_name: str = "Pat Doe", callback_number: str = PATIENT,
                 taken_by_id: int | None = None) -> int:
    """A message for a practice; returns its id."""
    with app.app_context():
        message = Message(practice_id=practice_id, call_id=call_id, urgency=urgency, caller_name=caller_name,
                          callback_number=callback_number, body=body, taken_by_id=taken_by_id,
                          created_at=at, delivered_at=at + timedelta(seconds=5))
        db.session.add(message)
        db.session.commit()
        return message.id
