"""<Dial>: ring browser clients and numbers and bridge the one who answers, or take the next queued caller.

A browser client is answered by its registered device (emulator/devices.py), as on Twilio.
A noun's `url` is the whisper: TwiML run on the answered leg before the bridge. When it runs out, the
parties are connected; when it hangs up (or the called party does), nobody is bridged and the <Dial>
ends with DialCallStatus `completed`, since the leg was answered.

<Dial><Conference> is in emulator/conference.py, with the rooms it joins.
"""

from __future__ import annotations

import logging
import time

from . import conference
from .call_control import CallControl
from .callflow import AppError, CallerGone, Document, EndCall, Redirected, resolve
from .state import Call, new_sid, now
from .twiml import Verb
from .webhooks import send_quietly

logger = logging.getLogger("emulator.engine")


def dial(live: CallControl, verb: Verb, document: Document) -> dict | None:
    """<Dial>: connect the caller to a queue, a conference room, or whichever client or number answers."""
    nouns = list(verb.children) or [Verb("Number", {}, verb.text)]
    if any(noun.name == "Queue" for noun in nouns):
        return dial_queue(live, verb, nouns[0], document)
    if any(noun.name == "Conference" for noun in nouns):
        return conference.dial_conference(live, verb, nouns[0], document)
    return dial_parties(live, verb, nouns, document)


def dial_parties(live: CallControl, verb: Verb, nouns: list[Verb], document: Document) -> dict | None:
    """<Dial><Client>/<Number>: ring every noun at once, bridge the first to answer, cancel the rest."""
    state, call = live.state, live.call
    action = resolve(document.url, verb.attr("action"))
    method = verb.attr("method", "POST")
    timeout = verb.int_attr("timeout", 30)
    time_limit = verb.int_attr("timeLimit", 14400)
    caller_id = verb.attr("callerId") or call.from_
    legs = []
    whispers: dict[str, dict] = {}  # leg sid -> the noun's url, run on the leg once it answers
    with state.changed:
        for noun in nouns:
            parameters = {}
            if noun.name == "Client":
                identity = noun.text or next((c.text for c in noun.children if c.name == "Identity"), "")
                to = f"client:{identity}"
                parameters = {c.attr("name"): c.attr("value") for c in noun.children
                              if c.name == "Parameter" and c.attr("name")}
            elif noun.name in {"Number", "Sip", "Sim"}:
                to = noun.text
            else:
                logger.warning("<Dial><%s> is not emulated; the dial fails", noun.name)
                continue
            leg = Call(sid=new_sid("CA"), account_sid=call.account_sid, from_=caller_id, to=to,
                       direction="outbound-dial", status="ringing", parent_sid=call.sid,
                       client_parameters=parameters)
            # The noun's own status callback reports this leg (answered, completed), as on Twilio.
            if noun.attr("statusCallback"):
                leg.status_callback = resolve(document.url, noun.attr("statusCallback"))
                leg.status_callback_method = noun.attr("statusCallbackMethod", "POST").upper()
                leg.status_callback_events = frozenset(
                    (noun.attr("statusCallbackEvent") or "completed").replace(",", " ").split())
            if noun.attr("url"):
                whispers[leg.sid] = {"url": resolve(document.url, noun.attr("url")),
                                     "method": noun.attr("method", "POST").upper()}
            state.calls[leg.sid] = leg
            legs.append(leg)
        call.connected_to = None
        state.changed.notify_all()
    ring_started = time.monotonic()
    ring_for = state.scaled(state.client_ring_seconds)

    def auto_answer_due(leg: Call) -> bool:
        return state.answers_by_itself(leg.to) and time.monotonic() - ring_started >= ring_for

    def settled() -> bool:
        for leg in legs:
            if auto_answer_due(leg):
                leg.answer_requested = True
        return any(leg.answer_requested for leg in legs) or all(
            leg.decline_requested or leg.hangup_requested for leg in legs)

    def result(status: str, leg: Call | None) -> dict:
        params = {"DialCallStatus": status}
        if leg is not None:
            params["DialCallSid"] = leg.sid
            params["DialCallDuration"] = str(leg.duration_seconds(state.speed))
        return params

    answered = None
    try:
        deadline = ring_started + state.scaled(timeout)
        while legs and not answered:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Wake up in time to answer clients the emulator answers by itself.
            if any(state.answers_by_itself(leg.to) for leg in legs) and time.monotonic() - ring_started < ring_for:
                remaining = min(remaining, ring_for - (time.monotonic() - ring_started) + 0.001)
            live.wait_real(remaining, until=settled)
            with state.lock:
                answered = next((leg for leg in legs if leg.answer_requested), None)
                if not answered and all(leg.decline_requested or leg.hangup_requested for leg in legs):
                    break
    except (CallerGone, Redirected):
        _end_legs(live, legs, "canceled")
        live.notify_app(action, method, result("canceled", None))
        raise
    if answered is None:
        with state.lock:
            declined = bool(legs) and all(leg.decline_requested for leg in legs)
        status = "busy" if declined else ("no-answer" if legs else "failed")
        _end_legs(live, legs, status)
        if action:
            return {"url": action, "method": method, "params": result(status, None)}
        return None
    _end_legs(live, [leg for leg in legs if leg is not answered], "canceled")
    if answered.sid in whispers:
        try:
            accepted = _whisper(live, answered, whispers[answered.sid])
        except (CallerGone, Redirected):
            _end_legs(live, [answered], "canceled")
            live.notify_app(action, method, result("completed", answered))
            raise
        if not accepted:
            _end_legs(live, [answered], "completed")
            if action:
                return {"url": action, "method": method, "params": result("completed", answered)}
            return None
    with state.changed:
        answered.status = "in-progress"
        answered.start_time = now()
        answered.answered_at = time.monotonic()
        answered.connected_to = call.from_
        answered.bridge_sid = call.sid
        call.connected_to = answered.to
        call.bridge_sid = answered.sid
        call.say(f"[connected to {answered.to}]", who="system")
        answered.say(f"[connected to {call.from_}]", who="system")
        state.changed.notify_all()
    if answered.sid not in whispers:  # a whispered leg reported its answer before the whisper
        state.status_callbacks.emit(answered, "answered")
    recording = _Recording.of(live, verb, document)
    try:
        live.wait(time_limit, until=lambda: answered.hangup_requested or answered.detached)
    except (CallerGone, Redirected):
        _end_legs(live, [answered], "completed")
        _unbridge(live)
        recording.finish()
        live.notify_app(action, method, result("completed", answered))
        raise
    with state.lock:
        detached = answered.detached
    if not detached:  # a leg redirected away lives on, running its own TwiML (placing.detach_leg)
        _end_legs(live, [answered], "completed")
    _unbridge(live)
    recording.finish()
    if action:
        return {"url": action, "method": method, "params": result("completed", answered)}
    return None


class _Recording:
    """<Dial record="record-from-answer[-dual]">: the bridge is recorded from the moment the parties are
    connected until it ends; then the recording exists (Recordings resource, silent audio of its length)
    and its recordingStatusCallback reports it `completed`. (record-from-ringing is taken from the
    answer too: the emulator has no ringing audio to keep.)"""

    def __init__(self, live: CallControl | None, verb: Verb | None = None, document: Document | None = None):
        self.live, self.verb, self.document = live, verb, document
        self.started = time.monotonic()

    @classmethod
    def of(cls, live: CallControl, verb: Verb, document: Document) -> _Recording:
        return cls(live, verb, document) if verb.attr("record", "do-not-record").startswith("record-") \
            or verb.attr("record") == "true" else cls(None)

    def finish(self) -> None:
        if self.live is None:
            return
        verb, state, call = self.verb, self.live.state, self.live.call
        self.live = None  # once
        seconds = max(1, round((time.monotonic() - self.started) * state.speed))
        channels = 2 if verb.attr("record", "").endswith("-dual") else 1
        sid = new_sid("RE")
        url = f"{state.base_url}/2010-04-01/Accounts/{call.account_sid}/Recordings/{sid}"
        with state.lock:
            state.recordings[sid] = {"sid": sid, "call_sid": call.sid, "text": None, "duration": seconds,
                                     "channels": channels, "source": "DialVerb", "date_created": now()}
        callback = resolve(self.document.url, verb.attr("recordingStatusCallback"))
        events = (verb.attr("recordingStatusCallbackEvent") or "completed").replace(",", " ").split()
        if not callback or "completed" not in events:
            return
        fields = {"AccountSid": call.account_sid, "CallSid": call.sid, "RecordingSid": sid, "RecordingUrl": url,
                  "RecordingStatus": "completed", "RecordingDuration": str(seconds),
                  "RecordingChannels": str(channels), "RecordingSource": "DialVerb", "RecordingTrack": "both",
                  "RecordingStartTime": now().strftime("%a, %d %b %Y %H:%M:%S +0000"), "ErrorCode": "0"}
        state.start_thread(send_quietly, state.auth_token, callback,
                           verb.attr("recordingStatusCallbackMethod", "POST").upper(), fields, name="recording-status")


def _whisper(live: CallControl, leg: Call, target: dict) -> bool:
    """Run the noun's url on the answered leg, on a thread of its own, while the caller keeps hearing
    it ring; True when the whisper ran out (connect them), False when it or the called party hung up."""
    state = live.state
    outcome: dict[str, bool] = {}
    with state.changed:
        leg.status = "in-progress"
        leg.start_time = now()
        leg.answered_at = time.monotonic()
        state.changed.notify_all()
    state.status_callbacks.emit(leg, "answered")
    leg_call = live.on_leg(leg)

    def run() -> None:
        accepted = False
        try:
            next_target = target
            while next_target is not None:
                try:
                    next_target = leg_call.execute(leg_call.fetch(next_target))
                except Redirected as redirect:
                    next_target = redirect.target
            accepted = True
        except (CallerGone, EndCall):
            pass
        except AppError as error:
            leg_call.application_error(error)
        except Exception:  # a bug in the emulator must not leave the caller ringing forever
            logger.exception("emulator failure in the whisper on %s", leg.sid)
        with state.changed:
            outcome["accepted"] = accepted
            state.changed.notify_all()

    state.start_thread(run, name=f"whisper-{leg.sid[:8]}")
    try:
        live.wait_real(10**9, until=lambda: "accepted" in outcome)
    except (CallerGone, Redirected):
        with state.changed:
            leg.hangup_requested = True  # the whisper stops; nobody is left to connect to
            state.changed.notify_all()
        raise
    return outcome["accepted"] and not leg.hangup_requested


def _unbridge(live: CallControl) -> None:
    state, call = live.state, live.call
    with state.changed:
        if call.connected_to:
            call.say(f"[{call.connected_to} hung up]", who="system")
        call.connected_to = None
        call.bridge_sid = None
        state.changed.notify_all()


def _end_legs(live: CallControl, legs: list[Call], status: str) -> None:
    """End legs of a Dial that have no TwiML of their own."""
    state = live.state
    ended = []
    with state.changed:
        for leg in legs:
            if leg.ended or leg.detached:  # a detached leg ends by its own TwiML
                continue
            leg.status = "completed" if leg.answered_at is not None else status
            leg.end_time = now()
            leg.ended_at = time.monotonic()
            leg.connected_to = None
            leg.bridge_sid = None
            ended.append(leg)
        state.changed.notify_all()
    for leg in ended:
        state.status_callbacks.emit(leg, "completed")


def dial_queue(live: CallControl, verb: Verb, noun: Verb, document: Document) -> dict | None:
    """<Dial><Queue>: bridge this call to the caller at the front of the queue."""
    state, call = live.state, live.call
    action = resolve(document.url, verb.attr("action"))
    method = verb.attr("method", "POST")
    with state.changed:
        queue = state.queue_by_name(noun.text, create=False)
        member = queue.members[0] if queue and queue.members else None
        other = state.calls.get(member.call_sid) if member else None
        if other is not None:
            queue.members.pop(0)
            other.bridge_sid = call.sid
            other.connected_to = call.to if call.direction == "inbound" else call.from_
            other.queue_name = None
            call.bridge_sid = other.sid
            call.connected_to = other.from_
            call.say(f"[connected to {other.from_}]", who="system")
            other.say(f"[connected to {other.connected_to}]", who="system")
        state.changed.notify_all()
    if other is None:
        params = {"DialCallStatus": "failed", "QueueSid": queue.sid if queue else ""}
        return {"url": action, "method": method, "params": params} if action else None
    started = time.monotonic()
    try:
        live.wait_real(10**9, until=lambda: other.ended or other.bridge_sid != call.sid)
    finally:
        with state.changed:
            if other.bridge_sid == call.sid:
                other.bridge_sid = None
                other.connected_to = None
            call.bridge_sid = None
            call.connected_to = None
            state.changed.notify_all()
    params = {"DialCallStatus": "completed", "DialCallSid": other.sid, "QueueSid": queue.sid,
              "DialCallDuration": str(int((time.monotonic() - started) * state.speed))}
    return {"url": action, "method": method, "params": params} if action else None
