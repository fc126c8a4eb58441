"""Twilio's REST API (2010-04-01), the parts the app uses: Calls, Messages, Queues, Members, Recordings,
Conferences and their Participants."""

from __future__ import annotations

import hmac
import io
import logging
import threading
import time
import wave

from flask import Blueprint, Response, current_app, jsonify, request

from . import conference as rooms
from .engine import place_outbound_call
from .messaging import deliver_outbound
from .resources import call_json, conference_json, member_json, message_json, page_json, participant_json, queue_json
from .state import Call, EmulatorState, Message, new_sid

logger = logging.getLogger("emulator.rest")

bp = Blueprint("twilio_rest", __name__, url_prefix="/2010-04-01/Accounts/<account_sid>")


def _state() -> EmulatorState:
    return current_app.extensions["twilio_emulator"]


def twilio_error(status: int, code: int, message: str, headers: dict | None = None):
    """An error in Twilio's JSON shape."""
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _not_found():
    return twilio_error(404, 20404, f"The requested resource {request.path} was not found")


@bp.before_request
def authenticate():
    """HTTP basic auth with AccountSid:AuthToken, as Twilio requires."""
    state = _state()
    if request.endpoint == "twilio_rest.recording_audio":
        return None  # Twilio serves recordings without credentials unless told otherwise
    auth = request.authorization
    ok = (
        auth is not None
        and auth.type == "basic"
        and hmac.compare_digest(auth.username or "", state.account_sid)
        and hmac.compare_digest(auth.password or "", state.auth_token)
    )
    if not ok:
        return twilio_error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
    if request.view_args.get("account_sid") != state.account_sid:
        return _not_found()
    return None


def _paging() -> tuple[int, int]:
    try:
        page_size = max(1, min(1000, int(request.args.get("PageSize", 50))))
        page = max(0, int(request.args.get("Page", 0)))
    except ValueError:
        page_size, page = 50, 0
    return page, page_size


# Calls -----------------------------------------------------------------------------------------

@bp.post("/Calls.json")
def create_call(account_sid):
    """Place an outbound call that rings the softphone (or browser client) with number To."""
    state = _state()
    form = request.form
    to, from_ = form.get("To", "").strip(), form.get("From", "").strip()
    if not to:
        return twilio_error(400, 21201, "No 'To' number is specified")
    if not from_:
        return twilio_error(400, 21213, "No 'From' number is specified")
    if form.get("Twiml"):
        start = {"twiml": form["Twiml"]}
    elif form.get("Url"):
        start = {"url": form["Url"], "method": form.get("Method", "POST")}
    else:
        return twilio_error(400, 21205, "Url parameter is required.")
    events = set()
    for value in form.getlist("StatusCallbackEvent"):
        events.update(value.split())
    call = Call(sid=new_sid("CA"), account_sid=account_sid, from_=from_, to=to, direction="outbound-api")
    call.status_callback = form.get("StatusCallback") or None
    call.status_callback_method = form.get("StatusCallbackMethod", "POST")
    call.status_callback_events = frozenset(events or {"completed"})
    try:
        ring_timeout = int(form.get("Timeout", 60))
    except ValueError:
        return twilio_error(400, 21216, "Timeout must be an integer")
    with state.lock:
        body = call_json(state, call)
    place_outbound_call(state, call, start, ring_timeout)
    return jsonify(body), 201


@bp.get("/Calls.json")
def list_calls(account_sid):
    """List calls, newest first, filtered like Twilio's list (To, From, Status, ParentCallSid)."""
    state = _state()
    filters = {"to": request.args.get("To"), "from_": request.args.get("From"),
               "status": request.args.get("Status"), "parent_sid": request.args.get("ParentCallSid")}
    with state.lock:
        calls = [c for c in state.calls.values()
                 if all(v is None or getattr(c, k) == v for k, v in filters.items())]
        calls.sort(key=lambda c: c.date_created, reverse=True)
        items = [call_json(state, c) for c in calls]
    page, page_size = _paging()
    return jsonify(page_json("calls", items, request.path, page, page_size))


@bp.get("/Calls/<call_sid>.json")
def fetch_call(account_sid, call_sid):
    state = _state()
    with state.lock:
        call = state.calls.get(call_sid)
        if call is None:
            return _not_found()
        return jsonify(call_json(state, call))


@bp.post("/Calls/<call_sid>.json")
def update_call(account_sid, call_sid):
    """Redirect a live call to new TwiML, or hang it up."""
    state = _state()
    form = request.form
    status = form.get("Status")
    target = None
    if form.get("Twiml"):
        target = {"twiml": form["Twiml"]}
    elif form.get("Url"):
        target = {"url": form["Url"], "method": form.get("Method", "POST")}
    if status and status not in {"completed", "canceled"}:
        return twilio_error(400, 21218, f"Invalid Status {status!r}: use completed or canceled")
    with state.changed:
        call = state.calls.get(call_sid)
        if call is None:
            return _not_found()
        if target and call.ended:
            return twilio_error(400, 21220, "Call is not in-progress. Cannot redirect.")
        if status and not call.ended:
            # canceled only stops calls that have not been answered yet
            if status == "completed" or call.answered_at is None:
                call.hangup_requested = True
        elif target:
            if call.parent_sid and call.direction == "outbound-dial":
                return twilio_error(400, 21220, "Redirecting a <Dial> leg is not emulated.")
            call.redirect = target
        if form.get("StatusCallback"):
            call.status_callback = form["StatusCallback"]
            call.status_callback_method = form.get("StatusCallbackMethod", "POST")
        state.changed.notify_all()
        if status and call.hangup_requested:
            # Answer with the ended call, as Twilio does, once the call thread has let go.
            state.changed.wait_for(lambda: call.ended, timeout=5)
        return jsonify(call_json(state, call))


# Messages --------------------------------------------------------------------------------------

@bp.post("/Messages.json")
def create_message(account_sid):
    """Send an SMS: it lands in the inbox of the softphone with number To."""
    state = _state()
    form = request.form
    to = form.get("To", "").strip()
    from_ = form.get("From", "").strip() or form.get("MessagingServiceSid", "").strip()
    body = form.get("Body", "")
    if not to:
        return twilio_error(400, 21604, "A 'To' phone number is required.")
    if not from_:
        return twilio_error(400, 21603, "A 'From' phone number is required.")
    if not body.strip():
        return twilio_error(400, 21602, "Message body is required.")
    if len(body) > 1600:
        return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    message = Message(sid=new_sid("SM"), account_sid=account_sid, from_=from_, to=to, body=body,
                      direction="outbound-api", status_callback=form.get("StatusCallback") or None)
    with state.changed:
        state.messages[message.sid] = message
        response = message_json(message)
    threading.Thread(target=deliver_outbound, args=(state, message), daemon=True).start()
    return jsonify(response), 201


@bp.get("/Messages.json")
def list_messages(account_sid):
    state = _state()
    with state.lock:
        messages = [m for m in state.messages.values()
                    if request.args.get("To") in (None, m.to) and request.args.get("From") in (None, m.from_)]
        messages.sort(key=lambda m: m.date_created, reverse=True)
        items = [message_json(m) for m in messages]
    page, page_size = _paging()
    return jsonify(page_json("messages", items, request.path, page, page_size))


@bp.get("/Messages/<message_sid>.json")
def fetch_message(account_sid, message_sid):
    state = _state()
    with state.lock:
        message = state.messages.get(message_sid)
        return jsonify(message_json(message)) if message else _not_found()


# Queues ----------------------------------------------------------------------------------------

@bp.get("/Queues.json")
def list_queues(account_sid):
    state = _state()
    with state.lock:
        items = [queue_json(state, q) for q in state.queues.values()]
    page, page_size = _paging()
    return jsonify(page_json("queues", items, request.path, page, page_size))


@bp.post("/Queues.json")
def create_queue(account_sid):
    state = _state()
    name = request.form.get("FriendlyName", "").strip()
    if not name:
        return twilio_error(400, 20001, "Missing required parameter FriendlyName in the post body")
    with state.lock:
        if name in state.queues:
            return twilio_error(400, 22003, "A queue with this friendly name already exists")
        queue = state.queue_by_name(name)
        error = _set_max_size(queue, request.form.get("MaxSize"))
        return error or (jsonify(queue_json(state, queue)), 201)


def _set_max_size(queue, value):
    if value is None:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 5000:
        return twilio_error(400, 20001, "MaxSize must be between 1 and 5000")
    queue.max_size = int(value)
    return None


@bp.get("/Queues/<queue_sid>.json")
def fetch_queue(account_sid, queue_sid):
    state = _state()
    with state.lock:
        queue = state.queue_by_sid(queue_sid)
        return jsonify(queue_json(state, queue)) if queue else _not_found()


@bp.post("/Queues/<queue_sid>.json")
def update_queue(account_sid, queue_sid):
    state = _state()
    with state.lock:
        queue = state.queue_by_sid(queue_sid)
        if queue is None:
            return _not_found()
        error = _set_max_size(queue, request.form.get("MaxSize"))
        if error:
            return error
        name = request.form.get("FriendlyName")
        if name and name != queue.friendly_name:
            state.queues[name] = state.queues.pop(queue.friendly_name)
            queue.friendly_name = name
        return jsonify(queue_json(state, queue))


@bp.get("/Queues/<queue_sid>/Members.json")
def list_members(account_sid, queue_sid):
    state = _state()
    with state.lock:
        queue = state.queue_by_sid(queue_sid)
        if queue is None:
            return _not_found()
        items = [member_json(state, queue, m, time.monotonic()) for m in queue.members]
    page, page_size = _paging()
    return jsonify(page_json("queue_members", items, request.path, page, page_size))


def _member(state: EmulatorState, queue_sid: str, call_sid: str):
    queue = state.queue_by_sid(queue_sid)
    if queue is None or not queue.members:
        return queue, None
    if call_sid == "Front":
        return queue, queue.members[0]
    return queue, next((m for m in queue.members if m.call_sid == call_sid), None)


@bp.get("/Queues/<queue_sid>/Members/<call_sid>.json")
def fetch_member(account_sid, queue_sid, call_sid):
    state = _state()
    with state.lock:
        queue, member = _member(state, queue_sid, call_sid)
        return jsonify(member_json(state, queue, member, time.monotonic())) if member else _not_found()


@bp.post("/Queues/<queue_sid>/Members/<call_sid>.json")
def dequeue_member(account_sid, queue_sid, call_sid):
    """Take a caller out of the queue and run the TwiML at Url for them."""
    state = _state()
    url = request.form.get("Url")
    if not url:
        return twilio_error(400, 20001, "Missing required parameter Url in the post body")
    with state.changed:
        queue, member = _member(state, queue_sid, call_sid)
        if member is None:
            return _not_found()
        body = member_json(state, queue, member, time.monotonic())
        call = state.calls[member.call_sid]
        call.redirect = {"url": url, "method": request.form.get("Method", "POST")}
        state.changed.notify_all()
    return jsonify(body)


# Conferences -----------------------------------------------------------------------------------

def _true_false(value: str | None) -> bool | None:
    return None if value is None else value.strip().lower() == "true"


@bp.get("/Conferences.json")
def list_conferences(account_sid):
    """Conference rooms, newest first, filtered by FriendlyName and Status as Twilio's list is."""
    state = _state()
    name, status = request.args.get("FriendlyName"), request.args.get("Status")
    with state.lock:
        rooms_found = [c for c in state.conferences.values()
                       if name in (None, c.friendly_name) and status in (None, c.status)]
        rooms_found.sort(key=lambda c: c.date_created, reverse=True)
        items = [conference_json(c) for c in rooms_found]
    page, page_size = _paging()
    return jsonify(page_json("conferences", items, request.path, page, page_size))


@bp.get("/Conferences/<conference_sid>.json")
def fetch_conference(account_sid, conference_sid):
    state = _state()
    with state.lock:
        room = state.conferences.get(conference_sid)
        return jsonify(conference_json(room)) if room else _not_found()


@bp.post("/Conferences/<conference_sid>.json")
def update_conference(account_sid, conference_sid):
    """End a conference with Status=completed (announcements are not emulated)."""
    state = _state()
    status = request.form.get("Status")
    if status not in (None, "completed"):
        return twilio_error(400, 20001, "Status must be completed")
    with state.changed:
        room = state.conferences.get(conference_sid)
        if room is None:
            return _not_found()
        events = rooms.end(state, room, "conference-ended-via-api") if status else []
        state.changed.notify_all()
        body = conference_json(room)
    rooms.send_events(state, events)
    return jsonify(body)


@bp.get("/Conferences/<conference_sid>/Participants.json")
def list_participants(account_sid, conference_sid):
    """Who is in the room now, in joining order, filtered by Muted and Hold."""
    state = _state()
    muted, hold = _true_false(request.args.get("Muted")), _true_false(request.args.get("Hold"))
    with state.lock:
        room = state.conferences.get(conference_sid)
        if room is None:
            return _not_found()
        items = [participant_json(room, p) for p in room.participants.values()
                 if muted in (None, p.muted) and hold in (None, p.hold)]
    page, page_size = _paging()
    return jsonify(page_json("participants", items, request.path, page, page_size))


def _participant(state: EmulatorState, conference_sid: str, call_sid: str):
    room = state.conferences.get(conference_sid)
    return room, (room.participants.get(call_sid) if room else None)


@bp.get("/Conferences/<conference_sid>/Participants/<call_sid>.json")
def fetch_participant(account_sid, conference_sid, call_sid):
    state = _state()
    with state.lock:
        room, participant = _participant(state, conference_sid, call_sid)
        return jsonify(participant_json(room, participant)) if participant else _not_found()


@bp.post("/Conferences/<conference_sid>/Participants/<call_sid>.json")
def update_participant(account_sid, conference_sid, call_sid):
    """Mute or hold a participant (the softphone shows it; no audio is emulated)."""
    state = _state()
    with state.changed:
        room, participant = _participant(state, conference_sid, call_sid)
        if participant is None:
            return _not_found()
        events = rooms.set_flags(room, participant, _true_false(request.form.get("Muted")),
                                 _true_false(request.form.get("Hold")))
        state.changed.notify_all()
        body = participant_json(room, participant)
    rooms.send_events(state, events)
    return jsonify(body)


@bp.delete("/Conferences/<conference_sid>/Participants/<call_sid>.json")
def remove_participant(account_sid, conference_sid, call_sid):
    """Kick a participant: their <Dial> ends and their call goes on to its action."""
    state = _state()
    with state.changed:
        room, participant = _participant(state, conference_sid, call_sid)
        if participant is None:
            return _not_found()
        participant.removed = True
        state.changed.notify_all()
        # Answer once the call thread has taken the participant out, as Twilio answers after the kick.
        state.changed.wait_for(lambda: call_sid not in room.participants, timeout=5)
    return "", 204


# Recordings ------------------------------------------------------------------------------------

@bp.get("/Recordings/<recording_sid>.json")
def fetch_recording(account_sid, recording_sid):
    state = _state()
    with state.lock:
        recording = state.recordings.get(recording_sid)
        if recording is None:
            return _not_found()
        return jsonify({
            "sid": recording_sid, "account_sid": account_sid, "call_sid": recording["call_sid"],
            "duration": str(recording["duration"]), "status": "completed", "channels": 1,
            "source": "RecordVerb", "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account_sid}/Recordings/{recording_sid}.json",
        })


@bp.get("/Recordings/<recording_sid>")
@bp.get("/Recordings/<recording_sid>.wav")
def recording_audio(account_sid, recording_sid):
    """The recording as audio: silence of the right length (the words are in TranscriptionText)."""
    state = _state()
    with state.lock:
        recording = state.recordings.get(recording_sid)
    if recording is None:
        return _not_found()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(1)
        audio.setframerate(8000)
        audio.writeframes(b"\x80" * 8000 * min(recording["duration"], 600))
    return Response(buffer.getvalue(), mimetype="audio/x-wav")

