"""Voicemail recordings are kept at Twilio for each practice's retention period, then deleted there.

The clock starts when the message was left, and only a reviewed voicemail's recording is ever
deleted: one nobody has listened to is still owed to the practice. A practice's period is
`recording_retention_days` (90 for a new practice; None keeps recordings, as practices that existed
before retention was introduced do until someone sets a period). The message itself, with its
transcription, stays; the portal says the recording was removed. Each deletion is a ledger event on
the call and an audit entry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import ledger
from .gateway import GatewayError, TwilioGateway
from .models import AuditEntry, Call, Message, Practice

PER_ROUND = 100


def due(session: Session, now: datetime, limit: int = PER_ROUND) -> list[Message]:
    """Reviewed voicemails whose recording has outlived its practice's retention period, oldest first."""
    found: list[Message] = []
    for practice in session.scalars(select(Practice).where(Practice.recording_retention_days.is_not(None))):
        cutoff = now - timedelta(days=practice.recording_retention_days)
        found += session.scalars(select(Message).where(
            Message.practice_id == practice.id, Message.recording_url.is_not(None),
            Message.recording_removed_at.is_(None), Message.needs_review.is_(False),
            Message.created_at < cutoff).order_by(Message.created_at).limit(limit)).all()
    return sorted(found, key=lambda m: m.created_at)[:limit]


def remove_expired_recordings(session: Session, gateway: TwilioGateway, now: datetime) -> list[int]:
    """Delete the recordings that are due at Twilio; the ids of their messages."""
    removed = []
    for message in due(session, now):
        sid = message.recording_url.rstrip("/").rsplit("/", 1)[-1]
        try:
            gateway.delete_recording(sid)
        except GatewayError:
            continue  # tried again next time
        message.recording_url, message.recording_removed_at = None, now
        session.add(AuditEntry(action="removed", object_type="recording", object_id=message.id,
                               practice_id=message.practice_id))
        call = session.get(Call, message.call_id) if message.call_id else None
        if call is not None:
            ledger.record(session, call, "recording_removed", {"recording_sid": sid, "why": "retention period over"},
                          dedupe_key="recording_removed")
        session.commit()
        removed.append(message.id)
    return removed
