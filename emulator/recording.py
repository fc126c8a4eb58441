"""<Record>: take a voicemail from what the caller says, store it, and send its transcription."""

from __future__ import annotations

from .call_control import CallControl
from .callflow import Document, resolve, speaking_seconds
from .state import new_sid, now
from .twiml import Verb
from .webhooks import send_quietly


def record(live: CallControl, verb: Verb, document: Document) -> dict | None:
    """<Record>: after the beep, the caller's next utterance is the recording; a finish key ends it."""
    state, call = live.state, live.call
    timeout = verb.int_attr("timeout", 5)
    max_length = verb.int_attr("maxLength", 3600)
    finish_keys = verb.attr("finishOnKey", "1234567890*#")
    action = resolve(document.url, verb.attr("action")) or document.url
    if verb.bool_attr("playBeep", True):
        with state.changed:
            call.say("[beep]", who="system")
            state.changed.notify_all()
    with state.changed:
        call.digits.clear()
        call.speech.clear()
        call.awaiting_input = "record"
        state.changed.notify_all()

    def finish_key_pressed() -> bool:
        while call.digits and call.digits[0] not in finish_keys:
            call.digits.popleft()
        return bool(call.digits)

    spoken, key = None, ""
    try:
        if live.wait(max_length if timeout == 0 else min(timeout, max_length),
                       until=lambda: bool(call.speech) or finish_key_pressed()):
            with state.lock:
                if call.speech:
                    spoken = call.speech.popleft()
                else:
                    key = call.digits.popleft()
            if spoken is not None and live.wait(timeout or 1, until=finish_key_pressed):
                with state.lock:
                    key = call.digits.popleft()  # the caller ended the message with a key
    finally:
        with state.changed:
            call.awaiting_input = None
            state.changed.notify_all()
    if spoken is None:
        return None  # nothing recorded: Twilio goes on to the next verb
    recording_sid = new_sid("RE")
    duration = max(1, round(speaking_seconds(spoken)))
    url = f"{state.base_url}/2010-04-01/Accounts/{call.account_sid}/Recordings/{recording_sid}"
    with state.lock:
        state.recordings[recording_sid] = {"sid": recording_sid, "call_sid": call.sid, "text": spoken,
                                           "duration": duration, "date_created": now()}
    callback = resolve(document.url, verb.attr("transcribeCallback"))
    if callback:
        _send_transcription(live, callback, spoken, recording_sid, url)
    params = {"RecordingUrl": url, "RecordingSid": recording_sid, "RecordingDuration": str(duration)}
    if key:
        params["Digits"] = key
    return {"url": action, "method": verb.attr("method", "POST"), "params": params}


def _send_transcription(live: CallControl, callback: str, text: str, recording_sid: str, url: str) -> None:
    # Transcription is instant and exact: the emulated caller speaks in text.
    fields = live.params({"TranscriptionText": text, "TranscriptionStatus": "completed",
                            "TranscriptionSid": new_sid("TR"), "TranscriptionType": "fast",
                            "TranscriptionUrl": url.replace("/Recordings/", "/Transcriptions/"),
                            "RecordingSid": recording_sid, "RecordingUrl": url,
                            "CallStatus": "completed"})
    live.state.start_thread(send_quietly, live.state.auth_token, callback, "POST", fields,
                              name="transcription")
