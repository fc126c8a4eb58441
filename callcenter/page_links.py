"""The one-time link in an on-call page's SMS: the clinician opens it, confirms who they are, reads the
message, and may acknowledge the page there.

The link holds a random token and nothing else (no patient data in the URL); only the token's hash is
kept. It opens once, for a day: the clinician confirms the last four digits of the phone the text was
sent to (five wrong answers and the link is dead), and is then shown what the answering service has for
the call: the practice, when, the reason, the callback number, and the message taken or the voicemail's
transcription. That look is audited. From then on the link shows nothing again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import rows
from .models import AuditEntry, Call, Message, OnCallPage, Practice

LIFETIME = timedelta(days=1)
MAX_TRIES = 5
PATH = "/p/"  # the link's path on the public address, before its token


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(page: OnCallPage, public_base: str | None) -> str | None:
    """A new link for this page (set on it; the caller commits), or None when there is no public address."""
    if not public_base:
        return None
    token = secrets.token_urlsafe(24)
    page.link_hash = _hash(token)
    return f"{public_base.rstrip('/')}{PATH}{token}"


class LinkRefused(Exception):
    """The link cannot show anything (unknown, expired, used, or too many wrong answers); says why."""


@dataclass(frozen=True)
class Shown:
    page: OnCallPage
    practice: str
    at: datetime
    reason: str | None
    callback_number: str | None
    messages: list[Message]


def open_link(session: Session, token: str, now: datetime, *, lock: bool = False) -> OnCallPage:
    """The page this link belongs to, if it may still be opened. `lock`: its row read afresh and locked
    until the transaction ends (answers sent at once are counted one after another)."""
    page = None
    if token:
        found = OnCallPage.link_hash == _hash(token)
        page = rows.locked(session, OnCallPage, found) if lock else session.scalar(select(OnCallPage).where(found))
    if page is None:
        raise LinkRefused("This link is not valid.")
    if page.link_used_at is not None:
        raise LinkRefused("This link has been opened already. Call the answering service if you need it again.")
    if page.link_tries >= MAX_TRIES:
        raise LinkRefused("This link is locked after too many wrong answers. Call the answering service.")
    if now - page.sent_at > LIFETIME:
        raise LinkRefused("This link has expired. Call the answering service.")
    return page


def confirm(session: Session, token: str, last_four: str, now: datetime, address: str | None = None) -> Shown:
    """The clinician gives the last four digits of their phone: what the link shows (once), audited.
    A wrong answer counts towards the lock; the caller commits either way."""
    page = open_link(session, token, now, lock=True)
    if not page.to_number or (last_four or "").strip() != page.to_number[-4:]:
        page.link_tries += 1
        left = MAX_TRIES - page.link_tries
        raise LinkRefused("Those are not the last four digits of the phone this text was sent to."
                          + (f" {left} tries left." if left > 0 else " The link is now locked."))
    page.link_used_at = now
    call = session.get(Call, page.call_id) if page.call_id is not None else None
    messages = list(session.scalars(select(Message).where(Message.call_id == page.call_id)
                                    .order_by(Message.id))) if call is not None else []
    for message in messages:
        session.add(AuditEntry(action="view", object_type="message", object_id=message.id,
                               practice_id=message.practice_id, address=address))
    if call is not None:
        session.add(AuditEntry(action="view", object_type="call", object_id=call.id, practice_id=call.practice_id,
                               address=address))
    practice = session.get(Practice, page.practice_id)
    callback = next((m.callback_number for m in messages if m.callback_number), None)
    return Shown(page=page, practice=practice.name if practice else "", at=call.created_at if call else page.sent_at,
                 reason=call.reason if call else None,
                 callback_number=callback or (call.from_number if call else None), messages=messages)
