"""The softphone: a page at `/` and the JSON endpoints under `/phone/api/` that it (and PhoneClient) use."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify, render_template, request

from .messaging import receive_inbound
from .placing import place_inbound_call
from .state import Call, EmulatorState

bp = Blueprint("phone", __name__, template_folder="templates", static_folder="static",
               static_url_path="/phone/static")

KEYS = set("0123456789*#")


def _state() -> EmulatorState:
    return current_app.extensions["twilio_emulator"]


def _error(status: int, message: str):
    response = jsonify({"error": message})
    response.status_code = status
    return response


def display_status(state: EmulatorState, call: Call) -> str:
    """What the softphone shows: Twilio's status, or what is going on inside the call (lock held)."""
    if call.ended:
        return "ended" if call.status == "completed" else f"ended ({call.status})"
    if call.status in {"queued", "initiated", "ringing"}:
        return "ringing"
    if call.connected_to:
        return "connected to agent" if call.connected_to.startswith("client:") else f"connected to {call.connected_to}"
    room = state.conferences.get(call.conference_sid) if call.conference_sid else None
    if room is not None:
        if room.status == "init":
            return "waiting for conference"
        participant = room.participants.get(call.sid)
        if participant is not None and participant.hold:
            return "on hold"
        return f"in conference ({len(room.participants)} participants)"
    if call.queue_name is not None:
        queue = state.queue_by_name(call.queue_name, create=False)
        position = queue.position(call.sid) if queue else None
        return f"in queue (position {position})" if position else "in queue"
    return call.status


def call_state(state: EmulatorState, call: Call) -> dict:
    """Everything a softphone shows about one call (lock held)."""
    queue = state.queue_by_name(call.queue_name, create=False) if call.queue_name is not None else None
    member = next((m for m in queue.members if m.call_sid == call.sid), None) if queue else None
    room = state.conferences.get(call.conference_sid) if call.conference_sid else None
    participant = room.participants.get(call.sid) if room else None
    waiting_room = participant is not None and room.status == "init"
    on_hold = member is not None or waiting_room or (participant is not None and participant.hold)
    return {
        "sid": call.sid,
        "from": call.from_,
        "to": call.to,
        "direction": call.direction,
        "status": call.status,
        "display": display_status(state, call),
        "ended": call.ended,
        "transcript": [{"who": line["who"], "text": line["text"]} for line in call.transcript],
        "in_queue": queue is not None,
        "queue": call.queue_name,
        "position": queue.position(call.sid) if queue else None,
        "connected_to": call.connected_to,
        "awaiting_input": call.awaiting_input,
        "errors": list(call.errors),
        "conference": room.friendly_name if room else None,
        "on_hold": on_hold,
        # Emulated seconds, for the softphone's call timer and hold indicator.
        "talk_seconds": call.duration_seconds(state.speed),
        "hold_seconds": int((time.monotonic() - member.enqueued_at) * state.speed) if member else (
            int((time.monotonic() - participant.joined_at) * state.speed) if waiting_room else None),
    }


@bp.get("/")
def softphone():
    """The softphone page."""
    state = _state()
    return render_template("phone.html", numbers=state.numbers)


@bp.get("/phone/api/config")
def config():
    state = _state()
    return jsonify({"numbers": state.numbers, "speed": state.speed})


@bp.post("/phone/api/calls")
def dial():
    """Place a call from a softphone to one of the emulator's numbers."""
    data = request.get_json(silent=True) or {}
    from_, to = str(data.get("from", "")).strip(), str(data.get("to", "")).strip()
    if not from_ or not to:
        return _error(400, "from and to are required")
    state = _state()
    call = place_inbound_call(state, from_, to)
    with state.lock:
        return jsonify(call_state(state, call)), 201


def _call(sid: str) -> Call | None:
    return _state().calls.get(sid)


@bp.get("/phone/api/calls/<sid>")
def show_call(sid):
    state = _state()
    with state.lock:
        call = _call(sid)
        return jsonify(call_state(state, call)) if call else _error(404, "no such call")


@bp.post("/phone/api/calls/<sid>/digits")
def press(sid):
    """Press keys on the keypad."""
    digits = str((request.get_json(silent=True) or {}).get("digits", ""))
    if not digits or set(digits) - KEYS:
        return _error(400, "digits must be 0-9, * or #")
    state = _state()
    with state.changed:
        call = _call(sid)
        if call is None:
            return _error(404, "no such call")
        if call.ended:
            return _error(409, "the call has ended")
        call.digits.extend(digits)
        call.say(f"pressed {digits}", who="caller")
        state.changed.notify_all()
        return jsonify(call_state(state, call))


@bp.post("/phone/api/calls/<sid>/speech")
def speak(sid):
    """Say something: heard by a speech Gather (as SpeechResult) or a Record."""
    text = str((request.get_json(silent=True) or {}).get("text", "")).strip()
    if not text:
        return _error(400, "text is required")
    state = _state()
    with state.changed:
        call = _call(sid)
        if call is None:
            return _error(404, "no such call")
        if call.ended:
            return _error(409, "the call has ended")
        call.speech.append(text)
        call.say(f"said: {text}", who="caller")
        state.changed.notify_all()
        return jsonify(call_state(state, call))


def _flag(sid: str, name: str):
    state = _state()
    with state.changed:
        call = _call(sid)
        if call is None:
            return _error(404, "no such call")
        if not call.ended:
            setattr(call, name, True)
            state.changed.notify_all()
        return jsonify(call_state(state, call))


@bp.post("/phone/api/calls/<sid>/hangup")
def hang_up(sid):
    """Hang up (or decline, if it is still ringing this softphone)."""
    state = _state()
    with state.lock:
        call = _call(sid)
        ringing_here = (call is not None and call.direction != "inbound" and call.answered_at is None
                        and not call.answer_requested)
    return _flag(sid, "decline_requested" if ringing_here else "hangup_requested")


@bp.post("/phone/api/calls/<sid>/answer")
def answer(sid):
    """Answer a call ringing this softphone."""
    return _flag(sid, "answer_requested")


@bp.post("/phone/api/calls/<sid>/decline")
def decline(sid):
    return _flag(sid, "decline_requested")


@bp.get("/phone/api/incoming")
def incoming():
    """Calls ringing `number` that nobody has answered yet."""
    number = request.args.get("number", "")
    state = _state()
    with state.lock:
        ringing = [call_state(state, c) for c in state.calls.values()
                   if c.to == number and c.direction != "inbound" and not c.ended
                   and c.answered_at is None and not c.answer_requested and not c.decline_requested
                   and not c.hangup_requested and c.status in {"queued", "initiated", "ringing"}]
    return jsonify({"calls": ringing})


@bp.get("/phone/api/inbox")
def inbox():
    """Text messages sent to `number`, oldest first."""
    number = request.args.get("number", "")
    state = _state()
    with state.lock:
        messages = sorted((m for m in state.messages.values()
                           if m.to == number and m.direction != "inbound" and m.status != "undelivered"),
                          key=lambda m: m.date_created)
        items = [{"sid": m.sid, "from": m.from_, "to": m.to, "body": m.body, "status": m.status,
                  "date_created": m.date_created.isoformat()} for m in messages]
    return jsonify({"messages": items})


@bp.post("/phone/api/messages")
def text_app():
    """Send a text message from a softphone to one of the emulator's numbers."""
    data = request.get_json(silent=True) or {}
    from_, to, body = (str(data.get(k, "")).strip() for k in ("from", "to", "body"))
    if not from_ or not to or not body:
        return _error(400, "from, to and body are required")
    message = receive_inbound(_state(), from_, to, body)
    return jsonify({"sid": message.sid}), 201
