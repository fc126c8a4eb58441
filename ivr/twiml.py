"""TwiML documents, built by small pure functions from plain values (tested by parsing the XML).

URLs are relative: Twilio resolves them against the URL of the document that holds them, so the
same documents work behind any public origin.
"""

from __future__ import annotations

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from callcenter import voice_tokens

from .prompts import EN, prompts

MENU_TIMEOUT = 6
HOLD_PAUSE = 50  # with the Say and the offer, the hold document lasts about a minute
RING_TIMEOUT = 20
ON_CALL_RING_TIMEOUT = 25
VOICEMAIL_MAX_SECONDS = 180


def _say(node, text: str, lang: dict) -> None:
    if text:
        node.say(text, voice=lang["voice"], language=lang["language"])


def unknown_number() -> str:
    r = VoiceResponse()
    _say(r, EN["unknown_number"], EN)
    r.hangup()
    return str(r)


def menu(language: str, practice_name: str, greeting: str | None, options, attempt: int, *, welcome: bool,
         offer_spanish: bool, prefix: str | None = None, hints: str = "") -> str:
    """Welcome and advisory (first time only), then the practice's menu by keypad or speech.

    Silence falls through to a Redirect back to the menu, counted as an attempt.
    """
    p = prompts(language)
    r = VoiceResponse()
    if prefix:
        _say(r, prefix, p)
    if welcome:
        _say(r, greeting or p["welcome"].format(practice=practice_name), p)
        _say(r, p["advisory"], p)
    gather = Gather(input="dtmf speech", num_digits=1, timeout=MENU_TIMEOUT, speech_timeout="auto",
                    action=f"/ivr/menu?attempt={attempt}", method="POST", language=p["language"], hints=hints)
    _say(gather, " ".join(p[f"option_{o.reason}"] for o in options) + " " + p["menu_speech"], p)
    if offer_spanish:
        _say(gather, EN["spanish"], prompts("es"))
    r.append(gather)
    r.redirect(f"/ivr/menu?attempt={attempt}&silent=1", method="POST")
    return str(r)


def _estimate_text(p: dict, minutes: int | None) -> str:
    if minutes is None:
        return p["stay"]
    return p["estimate_one"] if minutes == 1 else p["estimate"].format(minutes=minutes)


def enqueue(language: str, queue_name: str, position: int, urgent: bool, minutes: int | None,
            prefix: str | None = None) -> str:
    p = prompts(language)
    r = VoiceResponse()
    if prefix:
        _say(r, prefix, p)
    _say(r, (p["urgent_queued"] if urgent else p["queued"]).format(position=position), p)
    _say(r, _estimate_text(p, minutes), p)
    r.enqueue(queue_name, wait_url="/ivr/wait", wait_url_method="POST", action="/ivr/queue-exit", method="POST")
    return str(r)


def hold(language: str, position: int | None, minutes: int | None, *, offer_keep_place: bool,
         announce: bool = True) -> str:
    """The waitUrl document (only Say, Play, Pause, Gather, Redirect, Hangup, Leave are allowed here)."""
    p = prompts(language)
    r = VoiceResponse()
    if announce and position:
        _say(r, p["hold"].format(position=position) + " " + _estimate_text(p, minutes), p)
    if offer_keep_place:
        gather = Gather(input="dtmf", num_digits=1, timeout=5, action="/ivr/keep-place", method="POST")
        _say(gather, p["keep_place_offer"], p)
        r.append(gather)
    r.pause(length=HOLD_PAUSE)
    return str(r)


def leave_queue() -> str:
    r = VoiceResponse()
    r.leave()
    return str(r)


def _one_key_question(language: str, text: str, action: str) -> str:
    """Ask for one key; with none pressed the caller hears they are still in line (inside the wait loop)."""
    p = prompts(language)
    r = VoiceResponse()
    gather = Gather(input="dtmf", num_digits=1, timeout=8, action=action, method="POST")
    _say(gather, text, p)
    r.append(gather)
    _say(r, p["keep_place_cancelled"], p)
    return str(r)


def keep_place_number_choice(language: str, last4: str) -> str:
    text = prompts(language)["keep_place_caller_id"].format(last4=" ".join(last4))
    return _one_key_question(language, text, "/ivr/keep-place/choice")


def keep_place_enter_number(language: str, prefix: str | None = None) -> str:
    p = prompts(language)
    r = VoiceResponse()
    if prefix:
        _say(r, prefix, p)
    gather = Gather(input="dtmf", finish_on_key="#", timeout=10, action="/ivr/keep-place/number", method="POST")
    _say(gather, p["keep_place_enter"], p)
    r.append(gather)
    _say(r, p["keep_place_cancelled"], p)
    return str(r)


def keep_place_readback(language: str, digits: str) -> str:
    text = prompts(language)["keep_place_readback"].format(digits=" ".join(digits))
    return _one_key_question(language, text, "/ivr/keep-place/confirm")


def keep_place_done(language: str) -> str:
    p = prompts(language)
    r = VoiceResponse()
    _say(r, p["keep_place_done"], p)
    r.hangup()
    return str(r)


def say_then_hold(language: str, text: str) -> str:
    """A short answer inside the waitUrl loop; when it ends Twilio asks the waitUrl again."""
    p = prompts(language)
    r = VoiceResponse()
    _say(r, text, p)
    return str(r)


def _recorded_dial(dial_options: dict, recorded: bool) -> Dial:
    """A <Dial>; when the practice records conversations, Twilio records the bridge (both sides, one on
    each channel) and reports the recording to /ivr/call-recording (callcenter/recordings.py)."""
    if recorded:
        dial_options |= {"record": "record-from-answer-dual", "recording_status_callback": "/ivr/call-recording",
                         "recording_status_callback_event": "completed", "recording_status_callback_method": "POST"}
    return Dial(**dial_options)


def _connecting(r: VoiceResponse, p: dict, greeting: str | None, recorded: bool) -> None:
    _say(r, greeting or p["connecting"], p)
    if recorded:  # said before the recording starts, every time it will
        _say(r, p["recorded"], p)


def connect_to_agent(language: str, call_id: int, client_identity: str, greeting: str | None = None, *,
                     recorded: bool = False) -> str:
    p = prompts(language)
    r = VoiceResponse()
    _connecting(r, p, greeting, recorded)
    dial = _recorded_dial({"action": f"/ivr/dial-done/{call_id}", "method": "POST", "timeout": RING_TIMEOUT},
                          recorded)
    # The agent's leg reports when it is answered: only then is the caller connected (a caller who hangs
    # up while it rings has abandoned the call; the agent missed nothing); and when it ends, in case the
    # agent's line drops while the patient is on hold (callcenter/consult.py).
    client = dial.client(status_callback=f"/ivr/agent-leg/{call_id}", status_callback_event="answered completed",
                         status_callback_method="POST")
    client.identity(client_identity)
    # The agent's browser answers the leg that carries the call it accepted (and no other).
    client.parameter(name="call_id", value=str(call_id))
    r.append(dial)
    return str(r)


def connect_to_agent_phone(language: str, call_id: int, number: str, greeting: str | None = None, *,
                           recorded: bool = False) -> str:
    """Bridge the caller to an agent who takes calls on their own phone. The phone answering is not the
    agent accepting (a voicemail box answers too): the whisper asks them to press 1, and only that
    connects the caller (/ivr/agent-whisper-key); anything else sends the caller back in line."""
    p = prompts(language)
    r = VoiceResponse()
    _connecting(r, p, greeting, recorded)
    # Recorded from the answer: the agent's whisper ("press 1") runs on their leg before the bridge.
    dial = _recorded_dial({"action": f"/ivr/dial-done/{call_id}?via=phone", "method": "POST",
                           "timeout": RING_TIMEOUT}, recorded)
    dial.number(number, url=f"/ivr/agent-whisper/{call_id}", method="POST",
                status_callback=f"/ivr/agent-leg/{call_id}?via=phone", status_callback_event="answered completed",
                status_callback_method="POST")
    r.append(dial)
    return str(r)


def _press_1(action: str, words: str, otherwise: str) -> str:
    """A private word to whoever answered a call we placed or dialled (an agent's or a clinician's
    phone), said twice: pressing 1 goes on to `action`; nothing pressed ends their leg with `otherwise`."""
    r = VoiceResponse()
    gather = Gather(num_digits=1, timeout=6, action=action, method="POST")
    for _ in range(2):
        _say(gather, words, EN)
    r.append(gather)
    _say(r, otherwise, EN)
    r.hangup()
    return str(r)


def _said_then_hang_up(words: str) -> str:
    r = VoiceResponse()
    _say(r, words, EN)
    r.hangup()
    return str(r)


AGENT_NOT_TAKEN = "Not taken. The caller stays in line."
ON_CALL_NOT_TAKEN = "Not taken. The patient will leave an urgent message."


def agent_whisper(call_id: int, what: str) -> str:
    """What an agent hears on their own phone before the caller is put through: `what` call, press 1."""
    return _press_1(f"/ivr/agent-whisper-key/{call_id}", f"{what}. Press 1 to take the call.", AGENT_NOT_TAKEN)


def agent_not_taken() -> str:
    """The agent's phone did not take the call: their leg hangs up, nobody is connected. (When they press
    1 the answer is the empty document: the whisper runs out and Twilio connects the parties.)"""
    return _said_then_hang_up(AGENT_NOT_TAKEN)


def on_call_whisper(call_id: int, practice_name: str) -> str:
    """What the on-call clinician hears on answering, before the urgent patient is put through."""
    return _press_1(f"/ivr/on-call-whisper-key/{call_id}",
                    f"{practice_name} answering service: an urgent patient is on the line. Press 1 to speak to them.",
                    ON_CALL_NOT_TAKEN)


def on_call_not_taken() -> str:
    return _said_then_hang_up(ON_CALL_NOT_TAKEN)


def page_call_down(page_id: int, practice_name: str, ref: int | None, callback_number: str | None) -> str:
    """The call-down of an unacknowledged page: who, the reference, the number to call back, press 1."""
    return _press_1(f"/ivr/page-call-key/{page_id}",
                    f"This is the {practice_name} answering service with an urgent patient call"
                    f"{f', reference {ref}' if ref else ''}. Please call the patient back at "
                    f"{spoken_number(callback_number)}. Press 1 to acknowledge.",
                    "Not acknowledged. Goodbye.")


def page_acknowledged(message: str | None = None, callback_number: str | None = None) -> str:
    """The call-down acknowledged: now that a person pressed 1 (not a voicemail box), the message is read
    to them, with the number to call back again."""
    words = "Acknowledged. Thank you."
    if message:
        words += f" The message: {message[:600]}"
    if callback_number:
        words += f" Again, call the patient back at {spoken_number(callback_number)}."
    return _said_then_hang_up(words + " Goodbye.")


def patient_on_hold(language: str, call_id: int, room: str) -> str:
    """The patient waits in their own room: nobody has started it, so they hear Twilio's hold music
    until the agent (or the clinician) joins; their leaving ends it for everyone."""
    p = prompts(language)
    r = VoiceResponse()
    _say(r, p["on_hold"], p)
    dial = Dial(action=f"/ivr/patient-room-done/{call_id}", method="POST")
    dial.conference(room, start_conference_on_enter=False, end_conference_on_exit=True)
    r.append(dial)
    return str(r)


def agent_in_room(call_id: int, room: str) -> str:
    """The agent's leg in a room: waiting in silence for the clinician, or talking to the patient.
    Their leaving ends the room (a consult ends with it; the patient's room sends them on)."""
    r = VoiceResponse()
    dial = Dial(action=f"/ivr/agent-room-done/{call_id}", method="POST")
    dial.conference(room, start_conference_on_enter=True, end_conference_on_exit=True, wait_url="")
    r.append(dial)
    return str(r)


def consult_whisper(practice_name: str, room: str) -> str:
    """What the clinician hears on answering the agent's consult, before they talk to the agent."""
    r = VoiceResponse()
    _say(r, f"{practice_name} answering service. An agent has a patient on hold for you. Connecting you now.", EN)
    dial = Dial()
    dial.conference(room, start_conference_on_enter=True, end_conference_on_exit=False, wait_url="")
    r.append(dial)
    return str(r)


def clinician_joins(room: str) -> str:
    """The clinician goes through to the patient's room; when either leaves, the call is over."""
    r = VoiceResponse()
    dial = Dial()
    dial.conference(room, start_conference_on_enter=True, end_conference_on_exit=True)
    r.append(dial)
    return str(r)


def connect_to_on_call(language: str, call_id: int, number: str, prefix: str | None = None, *,
                       emergency_line: bool = False) -> str:
    """Put the caller through to the clinician on call (or, with nobody on call, the practice's own
    emergency line: the caller is told which), who presses 1 first."""
    p = prompts(language)
    r = VoiceResponse()
    if prefix:
        _say(r, prefix, p)
    _say(r, p["emergency_line_connecting" if emergency_line else "on_call_connecting"], p)
    dial = Dial(action=f"/ivr/on-call-done/{call_id}", method="POST", timeout=ON_CALL_RING_TIMEOUT)
    # The clinician presses 1 before the patient is put through: their voicemail box answering must
    # not take an urgent patient, nor count as the page acknowledged (/ivr/on-call-whisper).
    dial.number(number, url=f"/ivr/on-call-whisper/{call_id}", method="POST")
    r.append(dial)
    return str(r)


def _voicemail_words(urgent: bool, paged: bool, which: str) -> str:
    """The voicemail prompt key for this caller: "the on-call clinician has been paged" only if it is so."""
    if not urgent:
        return f"voicemail_{which}"
    return f"voicemail_urgent_{which}" if paged else f"voicemail_unpaged_{which}"


def voicemail(language: str, *, urgent: bool, paged: bool = False, prefix: str | None = None) -> str:
    """Record a message; the transcription arrives later at /ivr/transcription. `paged`: the on-call
    clinician's page went out for this call (only then is the caller told so)."""
    p = prompts(language)
    r = VoiceResponse()
    if prefix:
        _say(r, prefix, p)
    _say(r, p[_voicemail_words(urgent, paged, "prompt")], p)
    r.record(action="/ivr/voicemail", method="POST", max_length=VOICEMAIL_MAX_SECONDS, finish_on_key="#",
             play_beep=True, transcribe=True, transcribe_callback="/ivr/transcription")
    # Reached only if the caller said nothing: the action is not requested for an empty recording.
    _say(r, p["goodbye"], p)
    r.hangup()
    return str(r)


def voicemail_saved(language: str, *, urgent: bool, paged: bool = False) -> str:
    p = prompts(language)
    r = VoiceResponse()
    _say(r, p[_voicemail_words(urgent, paged, "thanks")], p)
    r.hangup()
    return str(r)


def redirect(url: str) -> str:
    r = VoiceResponse()
    r.redirect(url, method="POST")
    return str(r)


def goodbye(language: str = "en") -> str:
    p = prompts(language)
    r = VoiceResponse()
    _say(r, p["goodbye"], p)
    r.hangup()
    return str(r)


def safe_fallback() -> str:
    """When anything fails: take a voicemail so that someone calls back. Needs nothing but Twilio."""
    r = VoiceResponse()
    _say(r, EN["safe_fallback"], EN)
    r.record(action="/ivr/voicemail", method="POST", max_length=VOICEMAIL_MAX_SECONDS, finish_on_key="#",
             play_beep=True, transcribe=True, transcribe_callback="/ivr/transcription")
    _say(r, EN["goodbye"], EN)
    r.hangup()
    return str(r)


def empty() -> str:
    return str(VoiceResponse())


def spoken_number(number: str | None) -> str:
    """A phone number as a person reads it out: digit by digit, in groups (617, 555, 0188)."""
    digits = [c for c in number or "" if c.isdigit()]
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10:
        return " ".join(digits) or "withheld"
    return ", ".join(" ".join(group) for group in (digits[:3], digits[3:6], digits[6:]))


def sms_reply(text: str | None) -> str:
    r = MessagingResponse()
    if text:
        r.message(text)
    return str(r)


def agent_identity(agent_id: int) -> str:
    """The Twilio Client identity an agent's console registers as (see callcenter.voice_tokens)."""
    return voice_tokens.agent_identity(agent_id)
