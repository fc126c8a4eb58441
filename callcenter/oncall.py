"""The on-call clinician: who is on call now, and paging them by SMS through the gateway."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from . import page_links
from .gateway import GatewayError, TwilioGateway
from .models import Call, OnCallPage, OnCallShift, Practice


def current_shift(session: Session, practice_id: int, at: datetime) -> OnCallShift | None:
    """The shift covering `at`: an override (a shift added by hand) before a rotation's, then the
    latest-starting one when shifts overlap (callcenter/schedule.py)."""
    return session.scalar(
        select(OnCallShift)
        .where(OnCallShift.practice_id == practice_id, OnCallShift.starts_at <= at, OnCallShift.ends_at > at)
        .order_by(case((OnCallShift.rotation_id.is_(None), 0), else_=1), OnCallShift.starts_at.desc())
        .limit(1)
    )


def next_shift(session: Session, practice_id: int, at: datetime) -> OnCallShift | None:
    """The next shift to begin after `at` (who is on call next)."""
    return session.scalar(
        select(OnCallShift).where(OnCallShift.practice_id == practice_id, OnCallShift.starts_at > at)
        .order_by(OnCallShift.starts_at, case((OnCallShift.rotation_id.is_(None), 0), else_=1)).limit(1))


def page_text(practice: Practice, call: Call, why: str, link: str | None = None) -> str:
    """What the clinician's phone shows: enough to act, and the callback number they need; the one-time
    link (callcenter/page_links.py) shows the message itself, once they confirm who they are."""
    text = (f"{practice.name}: urgent patient call ({why}). Call back {call.from_number or 'withheld number'}. "
            f"Ref #{call.id}. Reply 1 to acknowledge.")
    return text + (f" Message: {link}" if link else "")


def was_paged(session: Session, call_id: int) -> bool:
    """Whether the on-call clinician's page for this call went out (so they have the caller's number):
    Twilio took the SMS, and no delivery receipt has said it will never arrive."""
    return session.scalar(select(OnCallPage.id).where(
        OnCallPage.call_id == call_id, OnCallPage.status == "sent",
        OnCallPage.delivery_status.is_(None) | OnCallPage.delivery_status.not_in(("undelivered", "failed")))
        .limit(1)) is not None


def page(session: Session, gateway: TwilioGateway, practice: Practice, call: Call, why: str,
         at: datetime) -> OnCallPage:
    """Send the on-call clinician an SMS about this call and record it (also when it could not be sent)."""
    existing = session.scalar(select(OnCallPage).where(OnCallPage.call_id == call.id,
                                                       OnCallPage.status == "sent"))
    if existing is not None:  # one page per call; retries of the webhook must not page twice
        return existing
    shift = current_shift(session, practice.id, at)
    record = OnCallPage(practice_id=practice.id, call_id=call.id, shift_id=shift.id if shift else None,
                        to_number=shift.number if shift else None, sent_at=at)
    if shift is None:
        record.status, record.error = "no_one_on_call", "no on-call shift covers this time"
        session.add(record)
        session.flush()
        return record
    return send(session, gateway, practice, record, lambda link: page_text(practice, call, why, link))


def send(session: Session, gateway: TwilioGateway, practice: Practice, record: OnCallPage,
         text: Callable[[str | None], str]) -> OnCallPage:
    """Send a page's SMS to its `to_number` (the clinician on call, or their backup), `text(link)` carrying
    its one-time link (callcenter/page_links.py); the page's status says whether Twilio took it."""
    # Kept before the SMS goes out: its delivery receipts name the page, and may arrive before
    # Twilio's answer to the send does (see escalation.delivery_receipt).
    record.status = "sending"
    link = page_links.issue(record, gateway.public_base())
    session.add(record)
    session.commit()
    receipts = gateway.message_status_url()
    try:
        record.message_sid = gateway.send_sms(record.to_number, practice.numbers[0].number, text(link),
                                              status_callback=f"{receipts}?page={record.id}" if receipts else None)
        record.status = "sent"
    except GatewayError as exc:
        record.status, record.error = "failed", str(exc)[:200]
    session.flush()
    return record
