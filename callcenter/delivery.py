"""Delivering messages: an urgent message taken at wrap-up reaches the practice's on-call clinician.

Runs in an RQ job (see `ops.jobs.page_on_call`): the agent's wrap-up must not wait on Twilio. Only
when the job cannot be queued (Redis away) does the console handler page at once: late beats never.
Idempotent: a retried or repeated job pages nobody twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import ledger, oncall
from .gateway import TwilioGateway
from .models import Call, Message, OnCallPage, Practice

# A page in one of these states settles the message: sent, or recorded that nobody was on call
# (visible on the console's "Recent pages"). A failed send is tried again.
SETTLED = ("sent", "no_one_on_call")


def page_reason(message: Message, call: Call) -> str:
    """The part of the page that says why; never the message itself (SMS bodies carry no health details)."""
    why = "urgent voicemail left" if message.kind == "voicemail" else "message taken by the answering service"
    if message.callback_number and message.callback_number != call.from_number:
        why += f", best number {message.callback_number}"
    return why


def deliver_urgent(session: Session, gateway: TwilioGateway, message: Message, now: datetime) -> OnCallPage | None:
    """Page the on-call clinician about an urgent message (one page per call); None when there is nothing to page.

    The page is recorded (also when nobody is on call or Twilio refused) and the call's ledger
    says the message was dispatched. Commits the page before its SMS goes out (see oncall.page).
    """
    if message.urgency != "urgent" or message.call_id is None:
        return None
    call = session.get(Call, message.call_id)
    practice = session.get(Practice, message.practice_id)
    if call is None or practice is None:
        return None
    settled = session.scalar(
        select(OnCallPage).where(OnCallPage.call_id == call.id, OnCallPage.status.in_(SETTLED))
        .order_by(OnCallPage.id.desc()).limit(1)
    )
    if settled is not None:
        return settled
    if not practice.numbers:  # nothing to send from: record it so that people see it
        page = OnCallPage(practice_id=practice.id, call_id=call.id, status="failed",
                          error="the practice has no phone number to send from", sent_at=now)
        session.add(page)
        session.flush()
    else:
        page = oncall.page(session, gateway, practice, call, page_reason(message, call), now)
    ledger.record(session, call, "message_dispatched",
                  {"message": message.id, "to": "on_call", "page": page.id, "status": page.status},
                  dedupe_key=f"on_call_page:{page.id}")
    return page
