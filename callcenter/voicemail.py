"""Voicemails: a recording becomes a message that needs review; its transcription follows later."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import calls, ledger
from .models import Call, Message


def recorded(session: Session, fields: Mapping) -> tuple[Call, Message | None]:
    """Twilio's recording callback (as it came, or kept and replayed): the voicemail becomes a message."""
    call, _practice = calls.enter_ivr(session, fields.get("CallSid", ""), fields.get("To"), fields.get("From"))
    url = fields.get("RecordingUrl")
    if not url or call.practice_id is None:
        return call, None
    try:
        duration = int(fields.get("RecordingDuration") or "")
    except ValueError:
        duration = None
    if duration is not None and not 0 <= duration < 2**31:
        duration = None
    return call, save(session, call, url, fields.get("RecordingSid") or None, duration, call.priority > 0)


def save(session: Session, call: Call, recording_url: str, recording_sid: str | None, duration: int | None,
         urgent: bool) -> Message | None:
    """Keep the recording as a message needing review (once per call, whatever Twilio retries)."""
    event = ledger.record(session, call, "voicemail", {"recording_sid": recording_sid, "duration": duration},
                          dedupe_key="voicemail")
    if event is None:
        message = session.scalar(select(Message).where(Message.call_id == call.id, Message.kind == "voicemail"))
        if message is not None and duration is not None and message.transcription is None:
            message.body = f"Voicemail, {duration} seconds. Transcription pending."
        return message
    ledger.advance(call, "voicemail")
    message = Message(practice_id=call.practice_id, call_id=call.id, kind="voicemail", needs_review=True,
                      urgency="urgent" if urgent else "routine", callback_number=call.from_number,
                      recording_url=recording_url,
                      body=f"Voicemail, {duration if duration is not None else '?'} seconds. Transcription pending.")
    session.add(message)
    session.flush()
    return message


def transcription_arrived(session: Session, recording_url: str | None, text: str | None, status: str) -> bool:
    """Attach Twilio's transcription to the voicemail it belongs to."""
    if not recording_url:
        return False
    message = session.scalar(select(Message).where(Message.recording_url == recording_url))
    if message is None:
        return False
    if status == "completed" and text:
        message.transcription = text[:10000]
        message.body = f"Voicemail transcription: {text[:5000]}"
    else:
        message.body = "Voicemail (transcription unavailable; listen to the recording)."
    return True


def review(session: Session, message: Message, user_id: int) -> None:
    """Someone listened and acted: the voicemail's call now has its owned outcome."""
    if not message.needs_review:
        return
    message.needs_review = False
    message.acknowledged_at = ledger.now()
    if message.call_id:
        call = session.get(Call, message.call_id)
        ledger.set_outcome(session, call, "voicemail_reviewed", actor_id=user_id)
