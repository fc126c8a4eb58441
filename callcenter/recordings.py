"""Recordings of patients' conversations with agents, where a practice turns recording on.

The caller is told before they are put through ("this call may be recorded"), and Twilio records the
bridge (`<Dial record=...>`). When Twilio reports a finished recording, it is written down here
(`arrived`); the worker then takes the service's own copy of the audio and deletes Twilio's
(`take_copy`), so the recording lives only where the practice's other patient data lives. The copy is
kept for the practice's retention period (`recording_retention_days`: 90 unless set, None keeps it)
and then removed (`remove_expired`); the row stays, saying so. Every step is a ledger event on the
call; every playback and removal is audited (the portal, through `scoping.PracticeScope`).

Nothing is lost when a part fails: a callback the database could not take is kept and replayed
(callcenter/kept.py), a copy that could not be taken is tried again by the job's retries and by the
reconciler (`copies_owed`), and Twilio's recording is deleted only once the copy is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import calls, ledger
from .gateway import GatewayError, TwilioGateway
from .models import AuditEntry, Call, CallRecording, Practice

log = logging.getLogger(__name__)

# A recording still at Twilio this long after its callback is copied by the reconciler (the job's own
# retries come first: 10 s, 60 s, 300 s).
COPY_OWED_AFTER = timedelta(minutes=10)
COPY_GIVEN_UP_AFTER = timedelta(days=2)  # Twilio still holds it; the portal says so
PER_ROUND = 50
MAX_AUDIO_BYTES = 200 * 1024 * 1024  # a four-hour dual-channel call at 8 kHz is about 230 MB as WAV; MP3 less


def arrived(session: Session, fields: Mapping) -> CallRecording | None:
    """Twilio's recording status callback for a recorded conversation (as it came, or kept and replayed).
    Written down once per recording, whatever Twilio retries; None when it is not one of our calls' or
    Twilio says it could not record."""
    call = calls.find_by_leg(session, str(fields.get("CallSid") or ""))
    sid = str(fields.get("RecordingSid") or "")[:64]
    if call is None or call.practice_id is None or not sid:
        return None
    status = fields.get("RecordingStatus") or "completed"
    if status != "completed":
        ledger.record(session, call, "recording_failed", {"recording_sid": sid, "status": str(status)[:20]},
                      dedupe_key=f"recording_failed:{sid}")
        return None
    found = session.scalar(select(CallRecording).where(CallRecording.recording_sid == sid))
    if found is not None:
        return found
    recording = CallRecording(practice_id=call.practice_id, call_id=call.id, recording_sid=sid,
                              twilio_url=str(fields.get("RecordingUrl") or "")[:500] or None,
                              duration_seconds=_small_int(fields.get("RecordingDuration")),
                              channels=_small_int(fields.get("RecordingChannels")), status="at_twilio",
                              created_at=ledger.now())
    session.add(recording)
    session.flush()
    ledger.record(session, call, "call_recorded", {"recording_sid": sid, "duration": recording.duration_seconds},
                  dedupe_key=f"call_recorded:{sid}")
    return recording


def _small_int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**31 else None


def take_copy(session: Session, gateway: TwilioGateway, recording_id: int, now: datetime) -> str | None:
    """Copy the recording's audio from Twilio into the ledger, then delete it at Twilio (idempotent).

    Returns the recording's status afterwards. Raises GatewayError when Twilio could not be reached or
    refused (the job is retried); the copy is committed before Twilio's is deleted, so a failure between
    the two leaves the audio in both places, never in neither."""
    recording = session.get(CallRecording, recording_id)
    if recording is None:
        return None
    if recording.status == "at_twilio":
        if not gateway.is_recording_url(recording.twilio_url):
            call = session.get(Call, recording.call_id)
            ledger.record(session, call, "recording_refused", {"recording_sid": recording.recording_sid,
                                                               "why": "not a recording of this account"},
                          dedupe_key=f"recording_refused:{recording.recording_sid}")
            recording.status = "failed"  # never fetched: the address came from the request, not from Twilio
            session.commit()
            log.error("recording %s: its address is not one of this account's recordings at Twilio; not fetched",
                      recording.id)
            return recording.status
        audio, content_type = gateway.recording_audio(recording.twilio_url)
        if len(audio) > MAX_AUDIO_BYTES:
            raise GatewayError(f"recording is {len(audio)} bytes, more than this service keeps")
        recording.audio, recording.content_type = audio, content_type[:40]
        recording.size_bytes, recording.kept_at, recording.status = len(audio), now, "kept"
        ledger.record(session, session.get(Call, recording.call_id), "recording_kept",
                      {"recording_sid": recording.recording_sid, "bytes": len(audio)},
                      dedupe_key=f"recording_kept:{recording.recording_sid}")
        session.commit()
    if recording.deleted_at_twilio_at is None and recording.status in ("kept", "removed"):
        gateway.delete_recording(recording.recording_sid)
        recording.deleted_at_twilio_at = now
        ledger.record(session, session.get(Call, recording.call_id), "recording_deleted_at_twilio",
                      {"recording_sid": recording.recording_sid},
                      dedupe_key=f"recording_deleted_at_twilio:{recording.recording_sid}")
        session.commit()
    return recording.status


def copies_owed(session: Session, now: datetime, limit: int = PER_ROUND) -> list[int]:
    """Recordings whose copy (or whose deletion at Twilio) is overdue: the job failed for good, or was lost."""
    cutoff = now - COPY_OWED_AFTER
    return list(session.scalars(
        select(CallRecording.id).where(CallRecording.created_at < cutoff,
                                       CallRecording.created_at > now - COPY_GIVEN_UP_AFTER,
                                       (CallRecording.status == "at_twilio") | (
            CallRecording.status.in_(("kept", "removed")) & CallRecording.deleted_at_twilio_at.is_(None)))
        .order_by(CallRecording.created_at).limit(limit)))


def give_up(session: Session, now: datetime) -> list[int]:
    """Recordings Twilio would not give for COPY_GIVEN_UP_AFTER: marked failed (the portal says they are
    not available), each a ledger event; their ids, for a person to look at. Commits."""
    stale = list(session.scalars(select(CallRecording).where(
        CallRecording.status == "at_twilio", CallRecording.created_at <= now - COPY_GIVEN_UP_AFTER).limit(PER_ROUND)))
    for recording in stale:
        recording.status = "failed"
        ledger.record(session, session.get(Call, recording.call_id), "recording_copy_failed",
                      {"recording_sid": recording.recording_sid}, dedupe_key=f"recording_copy_failed:{recording.id}")
    session.commit()
    return [r.id for r in stale]


def remove_expired(session: Session, now: datetime, limit: int = PER_ROUND) -> list[int]:
    """Remove the audio of kept recordings older than their practice's retention period; their ids."""
    removed: list[int] = []
    for practice in session.scalars(select(Practice).where(Practice.recording_retention_days.is_not(None))):
        cutoff = now - timedelta(days=practice.recording_retention_days)
        for recording in session.scalars(select(CallRecording).where(
                CallRecording.practice_id == practice.id, CallRecording.status == "kept",
                CallRecording.created_at < cutoff).order_by(CallRecording.created_at).limit(limit - len(removed))):
            recording.audio, recording.status, recording.removed_at = None, "removed", now
            session.add(AuditEntry(action="removed", object_type="call_recording", object_id=recording.id,
                                   practice_id=recording.practice_id))
            ledger.record(session, session.get(Call, recording.call_id), "recording_removed",
                          {"recording_sid": recording.recording_sid, "why": "retention period over"},
                          dedupe_key=f"recording_removed:{recording.recording_sid}")
            session.commit()
            removed.append(recording.id)
        if len(removed) >= limit:
            break
    return removed


def for_call(session: Session, call_id: int) -> list[CallRecording]:
    """A call's recordings, oldest first, without their audio."""
    return list(session.scalars(select(CallRecording).where(CallRecording.call_id == call_id)
                                .order_by(CallRecording.created_at, CallRecording.id)))
