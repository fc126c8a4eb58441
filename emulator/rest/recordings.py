"""The Recordings resource: what <Record> took, as metadata and as (silent) audio."""

from __future__ import annotations

import io
import wave

from flask import Response, request

from ..state import API_VERSION, EmulatorState
from .base import account_uri, bp, current_state, fetch, found, list_page, without_credentials

MAX_AUDIO_SECONDS = 600  # longer recordings are served cut short


def recording_json(state: EmulatorState, recording: dict) -> dict:
    """A Recording resource (state lock held)."""
    sid = recording["sid"]
    return {
        "sid": sid, "account_sid": state.account_sid, "call_sid": recording["call_sid"],
        "duration": str(recording["duration"]), "status": "completed",
        "channels": recording.get("channels", 1), "source": recording.get("source", "RecordVerb"),
        "api_version": API_VERSION,
        "uri": f"{account_uri(state.account_sid)}/Recordings/{sid}.json",
    }


@bp.get("/Recordings.json")
def list_recordings(account_sid):
    """List recordings, newest first, filtered by CallSid like Twilio's list."""
    call_sid = request.args.get("CallSid")
    return list_page("recordings", lambda state: [r for r in reversed(state.recordings.values())
                                                  if call_sid is None or r["call_sid"] == call_sid], recording_json)


@bp.get("/Calls/<call_sid>/Recordings.json")
def list_call_recordings(account_sid, call_sid):
    """One call's recordings (the same list, scoped under the call)."""
    return list_page("recordings", lambda state: [r for r in reversed(state.recordings.values())
                                                  if r["call_sid"] == call_sid], recording_json)


@bp.get("/Recordings/<recording_sid>.json")
def fetch_recording(account_sid, recording_sid):
    """A recording's metadata."""
    return fetch(lambda state: state.recordings.get(recording_sid), recording_json)


@bp.delete("/Recordings/<recording_sid>.json")
def delete_recording(account_sid, recording_sid):
    """Delete a recording: its audio and metadata are gone (404 from then on)."""
    state = current_state()
    with state.lock:
        found(state.recordings.pop(recording_sid, None))
    return Response(status=204)


@bp.get("/Recordings/<recording_sid>")
@bp.get("/Recordings/<recording_sid>.wav")
@without_credentials
def recording_audio(account_sid, recording_sid):
    """The recording as audio: silence of the right length (the words are in TranscriptionText)."""
    state = current_state()
    with state.lock:
        recording = found(state.recordings.get(recording_sid))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(recording.get("channels", 1))
        audio.setsampwidth(1)
        audio.setframerate(8000)
        seconds = min(recording["duration"], MAX_AUDIO_SECONDS)
        audio.writeframes(b"\x80" * recording.get("channels", 1) * 8000 * seconds)
    return Response(buffer.getvalue(), mimetype="audio/x-wav")
