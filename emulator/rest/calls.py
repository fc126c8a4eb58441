"""The Calls resource: place outbound calls, list and fetch them, redirect or hang up a live one."""

from __future__ import annotations

import re
from datetime import UTC, date

from flask import jsonify, request

from ..placing import place_outbound_call, run_detached_leg
from ..state import API_VERSION, Call, EmulatorState, new_sid, rfc2822
from .base import TwilioError, account_uri, bp, current_state, fetch, found, list_page


def formatted(number: str) -> str:
    """Twilio's human formatting of a North American number; anything else unchanged."""
    match = re.fullmatch(r"\+1(\d{3})(\d{3})(\d{4})", number or "")
    return f"({match[1]}) {match[2]}-{match[3]}" if match else number


def call_json(state: EmulatorState, call: Call) -> dict:
    """A Call resource (state lock held)."""
    uri = f"{account_uri(call.account_sid)}/Calls/{call.sid}"
    duration = str(call.duration_seconds(state.speed)) if call.ended else None
    updated = call.end_time or call.start_time or call.date_created
    return {
        "sid": call.sid,
        "date_created": rfc2822(call.date_created),
        "date_updated": rfc2822(updated),
        "parent_call_sid": call.parent_sid,
        "account_sid": call.account_sid,
        "to": call.to,
        "to_formatted": formatted(call.to),
        "from": call.from_,
        "from_formatted": formatted(call.from_),
        "phone_number_sid": None,
        "status": call.status,
        "start_time": rfc2822(call.start_time),
        "end_time": rfc2822(call.end_time),
        "duration": duration,
        "price": None,
        "price_unit": "USD",
        "direction": call.direction,
        "answered_by": None,
        "api_version": API_VERSION,
        "forwarded_from": None,
        "group_sid": None,
        "caller_name": None,
        "queue_time": "0",
        "trunk_sid": None,
        "uri": uri + ".json",
        "subresource_uris": {
            "notifications": uri + "/Notifications.json",
            "recordings": uri + "/Recordings.json",
            "payments": uri + "/Payments.json",
            "events": uri + "/Events.json",
            "siprec": uri + "/Siprec.json",
            "streams": uri + "/Streams.json",
            "transcriptions": uri + "/Transcriptions.json",
            "user_defined_message_subscriptions": uri + "/UserDefinedMessageSubscriptions.json",
            "user_defined_messages": uri + "/UserDefinedMessages.json",
        },
    }


def _target(form) -> dict | None:
    """What TwiML the form asks the call to run: inline `Twiml` first, else `Url` and `Method`."""
    if form.get("Twiml"):
        return {"twiml": form["Twiml"]}
    if form.get("Url"):
        return {"url": form["Url"], "method": form.get("Method", "POST")}
    return None


@bp.post("/Calls.json")
def create_call(account_sid):
    """Place an outbound call that rings the softphone (or browser client) with number To."""
    state = current_state()
    form = request.form
    to, from_ = form.get("To", "").strip(), form.get("From", "").strip()
    if not to:
        raise TwilioError(400, 21201, "No 'To' number is specified")
    if not from_:
        raise TwilioError(400, 21213, "No 'From' number is specified")
    start = _target(form)
    if start is None:
        raise TwilioError(400, 21205, "Url parameter is required.")
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
        raise TwilioError(400, 21216, "Timeout must be an integer") from None
    with state.lock:
        body = call_json(state, call)
    place_outbound_call(state, call, start, ring_timeout)
    return jsonify(body), 201


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise TwilioError(400, 20001, f"Invalid date: {value!r}") from None


@bp.get("/Calls.json")
def list_calls(account_sid):
    """List calls, newest first, filtered like Twilio's list (To, From, Status, ParentCallSid)."""
    filters = {"to": request.args.get("To"), "from_": request.args.get("From"),
               "status": request.args.get("Status"), "parent_sid": request.args.get("ParentCallSid")}
    # StartTime> is a day, as Twilio reads it: calls that started on or after that UTC date.
    started_on_or_after = _day(request.args.get("StartTime>"))

    def matching(state: EmulatorState) -> list[Call]:
        calls = [c for c in state.calls.values()
                 if all(v is None or getattr(c, k) == v for k, v in filters.items())
                 and (started_on_or_after is None
                      or (c.start_time or c.date_created).astimezone(UTC).date() >= started_on_or_after)]
        return sorted(calls, key=lambda c: c.date_created, reverse=True)

    return list_page("calls", matching, call_json)


@bp.get("/Calls/<call_sid>.json")
def fetch_call(account_sid, call_sid):
    """One call."""
    return fetch(lambda state: state.calls.get(call_sid), call_json)


@bp.post("/Calls/<call_sid>.json")
def update_call(account_sid, call_sid):
    """Redirect a live call to new TwiML, or hang it up."""
    state = current_state()
    form = request.form
    status = form.get("Status")
    target = _target(form)
    if status and status not in {"completed", "canceled"}:
        raise TwilioError(400, 21218, f"Invalid Status {status!r}: use completed or canceled")
    detach = False
    with state.changed:
        call = found(state.calls.get(call_sid))
        if target and call.ended:
            raise TwilioError(400, 21220, "Call is not in-progress. Cannot redirect.")
        if status and not call.ended:
            # canceled only stops calls that have not been answered yet
            if status == "completed" or call.answered_at is None:
                call.hangup_requested = True
        elif target:
            if call.parent_sid and call.direction == "outbound-dial" and not call.detached:
                # A <Dial>'s answered leg leaves the bridge and runs the new TwiML on its own; the
                # parent's <Dial> ends as completed and goes on to its action (dial.detach_leg).
                if call.answered_at is None or call.bridge_sid is None:
                    raise TwilioError(400, 21220, "Call is not in-progress. Cannot redirect.")
                detach = True
            else:
                call.redirect = target
        if form.get("StatusCallback"):
            call.status_callback = form["StatusCallback"]
            call.status_callback_method = form.get("StatusCallbackMethod", "POST")
        if detach:
            call.detached = True  # the parent's <Dial> ends at once; the leg's own thread starts below
            call.bridge_sid = None
            call.connected_to = None
        state.changed.notify_all()
        if status and call.hangup_requested:
            # Answer with the ended call, as Twilio does, once the call thread has let go.
            state.changed.wait_for(lambda: call.ended, timeout=5)
        body = call_json(state, call)
    if detach:
        run_detached_leg(state, call, target)
    return jsonify(body)
