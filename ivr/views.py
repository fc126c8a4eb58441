"""The Twilio webhooks: /ivr/voice, /ivr/status, /sms/inbound and the app's own IVR steps."""

from __future__ import annotations

import logging

from flask import Response, current_app, request

from callcenter import calls, ledger
from callcenter.extensions import csrf, db, socketio
from callcenter.live import announce_queue
from callcenter.models import Call, Message

from . import bp, sms_bp, twiml
from .prompts import EN
from .webhooks import twilio_webhook, twiml_response

log = logging.getLogger(__name__)
MAX_MENU_ATTEMPTS = 3

csrf.exempt(bp)
csrf.exempt(sms_bp)


def _safe() -> Response:
    return twiml_response(twiml.safe_fallback())


def _announce() -> None:
    """Tell consoles the queue changed. A hint only: failure must not touch the caller's answer."""
    try:
        announce_queue(db.session, current_app.call_queue, socketio.emit)
    except Exception as exc:
        log.warning("queue announcement failed: %s", type(exc).__name__)


def _call() -> Call | None:
    return ledger.find_call(db.session, request.form.get("CallSid", ""))


def _queue_name(call: Call) -> str:
    return f"practice-{call.practice_id}"  # no patient data in queue names


@bp.post("/voice")
@twilio_webhook(_safe)
def voice():
    """A call comes in: find the practice by the dialled number, greet, advise, offer the menu."""
    form = request.form
    call, practice = calls.enter_ivr(db.session, form.get("CallSid", ""), form.get("To"), form.get("From"),
                                     form.get("Direction", "inbound"))
    db.session.commit()
    if practice is None:
        return twiml_response(twiml.unknown_number())
    return twiml_response(twiml.menu(practice.name, practice.greeting, attempt=1, welcome=True))


@bp.post("/menu")
@twilio_webhook(_safe)
def menu():
    """The caller's menu choice; wrong keys or silence repeat the menu, then go to the message path."""
    call = _call()
    if call is None or call.practice is None:
        return twiml_response(twiml.unknown_number())
    attempt = request.args.get("attempt", default=1, type=int) or 1
    digits = (request.form.get("Digits") or "").strip()
    choice = calls.choose(db.session, call, digits[:1]) if digits else None
    if choice is None and not digits:
        ledger.record(db.session, call, "no_input", {"attempt": attempt})
    if choice is None:
        if attempt >= MAX_MENU_ATTEMPTS:
            choice = calls.choose(db.session, call, "2")
            prefix = EN["fallback_to_message"]
        else:
            db.session.commit()
            return twiml_response(twiml.menu(call.practice.name, call.practice.greeting, attempt + 1, welcome=False,
                                             prefix=EN["invalid"] if digits else None))
    else:
        prefix = None
    position = calls.queue_call(db.session, current_app.call_queue, call)
    db.session.commit()
    _announce()
    return twiml_response(twiml.enqueue(_queue_name(call), position, call.priority > 0, prefix=prefix))


@bp.post("/wait")
@twilio_webhook(lambda: twiml_response(twiml.hold(None)))
def wait():
    """The waitUrl loop: the caller's honest position in our queue."""
    call = _call()
    position = current_app.call_queue.position(call.id) if call else None
    return twiml_response(twiml.hold(position))


@bp.post("/queue-exit")
@twilio_webhook(_safe)
def queue_exit():
    """The caller left Twilio's queue; continue according to where the ledger says the call is."""
    call = _call()
    result = request.form.get("QueueResult", "")
    if call is None:
        return _safe()
    ledger.record(db.session, call, "queue_exit", {"result": result})
    db.session.commit()
    if call.state in ("connecting", "connected"):
        return twiml_response(twiml.redirect(f"/ivr/connect/{call.id}"))
    if call.state == "queued" and result not in ("hangup",):
        position = calls.queue_call(db.session, current_app.call_queue, call)
        return twiml_response(twiml.enqueue(_queue_name(call), position, call.priority > 0))
    return twiml_response(twiml.empty())


@bp.post("/connect/<int:call_id>")
@twilio_webhook(_safe)
def connect(call_id: int):
    """Fetched by Twilio after an agent took the call: bridge the caller to that agent."""
    call = db.session.get(Call, call_id)
    if call is None or call.call_sid != request.form.get("CallSid"):
        return _safe()
    if call.state not in ("connecting", "connected") or call.agent_id is None:
        position = calls.queue_call(db.session, current_app.call_queue, call)
        return twiml_response(twiml.enqueue(_queue_name(call), position, call.priority > 0))
    calls.connected(db.session, call)
    db.session.commit()
    return twiml_response(twiml.connect_to_agent(call.id, twiml.agent_identity(call.agent_id)))


@bp.post("/dial-done/<int:call_id>")
@twilio_webhook(_safe)
def dial_done(call_id: int):
    """The bridge to the agent ended; if the agent never answered, the caller keeps their place."""
    call = db.session.get(Call, call_id)
    if call is None or call.call_sid != request.form.get("CallSid"):
        return _safe()
    duration = request.form.get("DialCallDuration", type=int)
    hold_again = calls.dial_finished(db.session, current_app.call_queue, call,
                                     request.form.get("DialCallStatus", ""), duration)
    db.session.commit()
    if hold_again:
        _announce()
        position = current_app.call_queue.position(call.id) or 1
        return twiml_response(twiml.enqueue(_queue_name(call), position, call.priority > 0,
                                            prefix=EN["agent_missed"]))
    return twiml_response(twiml.goodbye())


@bp.post("/goodbye")
@twilio_webhook(lambda: twiml_response(twiml.goodbye()))
def goodbye():
    """The agent ended the call."""
    return twiml_response(twiml.goodbye())


@bp.post("/voicemail")
@twilio_webhook(lambda: twiml_response(twiml.voicemail_saved()))
def voicemail():
    """A voicemail left on the safe path becomes a message that needs review."""
    call = _call()
    url = request.form.get("RecordingUrl")
    if call is not None and url and call.practice_id is not None:
        event = ledger.record(db.session, call, "voicemail", {"recording_sid": request.form.get("RecordingSid")},
                              dedupe_key="voicemail")
        if event is not None:
            ledger.advance(call, "voicemail")
            db.session.add(Message(practice_id=call.practice_id, call_id=call.id, urgency="routine",
                                   callback_number=call.from_number,
                                   body=f"Voicemail ({request.form.get('RecordingDuration', '?')} s): {url}"))
        db.session.commit()
    return twiml_response(twiml.voicemail_saved())


@bp.post("/status")
@twilio_webhook(lambda: Response(status=204))
def status():
    """Call status changes. Idempotent and order-proof; unknown calls get 204 too."""
    call = _call()
    if call is None:
        return Response(status=204)
    form = request.form
    sequence = form.get("SequenceNumber", type=int)
    duration = form.get("CallDuration", type=int)
    result = calls.line_ended(db.session, current_app.call_queue, call, form.get("CallStatus", ""), sequence,
                              duration)
    db.session.commit()
    if result == "abandoned":
        _announce()
    return Response(status=204)


@sms_bp.post("/inbound")
@twilio_webhook(lambda: twiml_response(twiml.sms_reply(None)))
def sms_inbound():
    """A text to a practice number: tell the patient to call (we do not take medical requests by SMS)."""
    return twiml_response(twiml.sms_reply(EN["sms_reply"]))
