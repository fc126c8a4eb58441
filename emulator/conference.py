"""Conference rooms: who is in which room, when a room starts and ends, and its status callbacks.

Twilio's rules, as the emulator keeps them:
- the first `<Dial><Conference>name</Conference></Dial>` creates the room (status `init`) and waits,
  hearing the `waitUrl` (Twilio's hold music when absent, silence when empty);
- the room starts (`in-progress`) once it holds two participants and one of them joined with
  `startConferenceOnEnter` (the default); until then everyone waits;
- it ends (`completed`) when the last participant leaves, when one who joined with
  `endConferenceOnExit="true"` leaves or is removed, or through the REST API; everyone still inside
  then leaves too, and each caller's `<Dial>` goes on to its `action` (or the next verb).

`dial_conference` runs on the caller's thread: it joins, waits and leaves. The room functions below it
work on the state and expect its lock to be held; they return the status callbacks to send, which the
caller sends with `send_events` once the lock is released.
"""

from __future__ import annotations

import time

from .call_control import CallControl
from .callflow import HOLD_MUSIC_SECONDS, CallerGone, Document, Redirected, Woken, resolve
from .state import Call, Conference, EmulatorState, Participant, new_sid, now, rfc2822
from .twiml import Verb
from .webhooks import send_quietly

# The StatusCallbackEvent Twilio reports -> the statusCallbackEvent word that asks for it.
EVENT_WORDS = {"conference-start": "start", "conference-end": "end", "participant-join": "join",
               "participant-leave": "leave", "participant-mute": "mute", "participant-unmute": "mute",
               "participant-hold": "hold", "participant-unhold": "hold"}


# A caller in a room (the call's thread) ------------------------------------------------------------

def dial_conference(live: CallControl, verb: Verb, noun: Verb, document: Document) -> dict | None:
    """<Dial><Conference>: wait in the named room until it starts, talk until it ends or we leave."""
    state, call = live.state, live.call
    action = resolve(document.url, verb.attr("action"))
    method = verb.attr("method", "POST")
    hangup_on_star = verb.bool_attr("hangupOnStar")
    participant = Participant(call.sid, noun.bool_attr("startConferenceOnEnter", True),
                              noun.bool_attr("endConferenceOnExit"), noun.bool_attr("muted"),
                              label=noun.attr("participantLabel"))
    callback = None
    if noun.attr("statusCallback"):
        callback = (resolve(document.url, noun.attr("statusCallback")), noun.attr("statusCallbackMethod", "POST"),
                    frozenset(noun.attr("statusCallbackEvent", "").replace(",", " ").split()))
    with state.changed:
        call.digits.clear()
        room, events = join(state, call, noun.text, participant, noun.int_attr("maxParticipants", 250), callback)
        state.changed.notify_all()
    send_events(state, events)
    if room is None:
        params = {"DialCallStatus": "failed", "DialCallDuration": "0"}
        return {"url": action, "method": method, "params": params} if action else None
    joined = time.monotonic()

    def leaving() -> bool:
        return room.ended or participant.removed or (hangup_on_star and "*" in call.digits)

    def result() -> dict:
        return {"DialCallStatus": "completed",
                "DialCallDuration": str(int((time.monotonic() - joined) * state.speed))}

    try:
        if room.status == "init":
            live.wake_when(lambda: room.status != "init" or leaving())
            try:
                _wait_for_start(live, noun, document)
            except Woken:
                pass
            finally:
                live.stop_waking()
        live.wait(verb.int_attr("timeLimit", 14400), until=leaving)
    except (CallerGone, Redirected):
        _leave_room(live, room)
        live.notify_app(action, method, result())  # requested at once; its answer is unused
        raise
    except BaseException:  # an application error in the waitUrl, say: the call ends, so it leaves
        _leave_room(live, room)
        raise
    _leave_room(live, room)
    return {"url": action, "method": method, "params": result()} if action else None


def _leave_room(live: CallControl, room: Conference) -> None:
    with live.state.changed:
        events = leave(live.state, room, live.call.sid)
        live.state.changed.notify_all()
    send_events(live.state, events)


def _wait_for_start(live: CallControl, noun: Verb, document: Document) -> None:
    """What a participant hears until the room starts (this only returns by raising)."""
    wait_url = noun.attrs.get("waitUrl")
    if wait_url is None:  # Twilio's default hold music
        while True:
            live.hear("[hold music]", HOLD_MUSIC_SECONDS, who="system")
    if not wait_url.strip():  # waitUrl="": silence
        live.wait_real(10**9)
    target = {"url": resolve(document.url, wait_url), "method": noun.attr("waitMethod", "POST")}
    while True:
        wait_document = live.fetch(target, context="conference-wait")
        target = {"url": resolve(document.url, wait_url), "method": noun.attr("waitMethod", "POST")}
        started = time.monotonic()
        for wait_verb in wait_document.verbs:
            live.checkpoint()
            if wait_verb.name == "Redirect":
                target = {"url": resolve(wait_document.url, wait_verb.text),
                          "method": wait_verb.attr("method", "POST")}
                break
            live.perform(wait_verb, wait_document)
        if time.monotonic() - started < 0.05:
            live.wait(1.0)  # a wait document that takes no time must not hammer the app


# Rooms (state lock held) -----------------------------------------------------------------------------

def person(call: Call) -> str:
    """How the other participants see `call`: the caller's number, or whom the app called."""
    return call.from_ if call.direction == "inbound" else call.to


def _event(room: Conference, event: str, participant: Participant | None = None, **extra) -> tuple | None:
    """A conference status callback, if the room's callback asked for `event`."""
    if not room.status_callback or EVENT_WORDS[event] not in room.status_callback_events:
        return None
    params = {"AccountSid": room.account_sid, "ConferenceSid": room.sid, "FriendlyName": room.friendly_name,
              "StatusCallbackEvent": event, "Timestamp": rfc2822(now()), "SequenceNumber": str(room.sequence)}
    room.sequence += 1
    if participant is not None:
        params.update({"CallSid": participant.call_sid, "Muted": _bool(participant.muted),
                       "Hold": _bool(participant.hold), "Coaching": "false",
                       "EndConferenceOnExit": _bool(participant.end_conference_on_exit),
                       "StartConferenceOnEnter": _bool(participant.start_conference_on_enter)})
    params.update(extra)
    return room.status_callback, room.status_callback_method, params


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _tell(state: EmulatorState, room: Conference, line: str, skip: str | None = None) -> None:
    for call_sid in room.participants:
        call = state.calls.get(call_sid)
        if call is not None and call_sid != skip:
            call.say(line, who="system")


def join(state: EmulatorState, call: Call, name: str, participant: Participant, max_participants: int,
         status_callback: tuple | None) -> tuple[Conference | None, list]:
    """Put `call` in the room called `name`, creating it; (None, []) if the room is full."""
    room = state.live_conference(name)
    if room is None:
        room = Conference(new_sid("CF"), call.account_sid, name)
        state.conferences[room.sid] = room
    if len(room.participants) >= max_participants:
        return None, []
    if status_callback and not room.status_callback:  # the first participant to name one sets it
        room.status_callback, room.status_callback_method, room.status_callback_events = status_callback
    _tell(state, room, f"[{person(call)} joined]")
    room.participants[call.sid] = participant
    room.date_updated = now()
    call.conference_sid = room.sid
    call.say(f"[joined conference {name}]", who="system")
    events = [_event(room, "participant-join", participant)]
    if room.status == "init" and len(room.participants) >= 2 and any(
            p.start_conference_on_enter for p in room.participants.values()):
        room.status = "in-progress"
        _tell(state, room, "[conference started]")
        events.append(_event(room, "conference-start"))
    return room, events


def leave(state: EmulatorState, room: Conference, call_sid: str) -> list:
    """Take `call_sid` out of the room; end the room if that is what its leaving means."""
    participant = room.participants.pop(call_sid, None)
    call = state.calls.get(call_sid)
    if call is not None:
        call.conference_sid = None
    if participant is None:
        return []
    room.date_updated = now()
    events = [_event(room, "participant-leave", participant)]
    if call is not None:
        _tell(state, room, f"[{person(call)} left]")
    if not room.ended:
        how = "kicked" if participant.removed else "left"
        if participant.end_conference_on_exit:
            events += end(state, room, f"participant-with-end-conference-on-exit-{how}", call_sid)
        elif not room.participants:
            events += end(state, room, f"last-participant-{how}", call_sid)
    return events


def end(state: EmulatorState, room: Conference, reason: str, call_sid: str | None = None) -> list:
    """End the room; participants still inside notice and leave on their own threads."""
    if room.ended:
        return []
    room.status = "completed"
    room.reason_ended = reason
    room.call_sid_ending = call_sid
    room.date_updated = now()
    _tell(state, room, "[conference ended]")
    extra = {"ReasonConferenceEnded": reason}
    if call_sid:
        extra["CallSidEndingConference"] = call_sid
    return [_event(room, "conference-end", **extra)]


def set_flags(room: Conference, participant: Participant, muted: bool | None, hold: bool | None) -> list:
    """Mute or hold a participant through the REST API."""
    events = []
    if muted is not None and muted != participant.muted:
        participant.muted = muted
        events.append(_event(room, "participant-mute" if muted else "participant-unmute", participant))
    if hold is not None and hold != participant.hold:
        participant.hold = hold
        events.append(_event(room, "participant-hold" if hold else "participant-unhold", participant))
    participant.date_updated = now()
    return events


def send_events(state: EmulatorState, events: list) -> None:
    """Send conference status callbacks (lock not held); each is its own request, as at Twilio."""
    for event in events:
        if event is not None:
            url, method, params = event
            state.start_thread(send_quietly, state.auth_token, url, method, params, state.connect_timeout,
                               state.read_timeout, name="conference-callback")
