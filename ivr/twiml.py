"""TwiML documents, built by small pure functions from plain values (tested by parsing the XML)."""

from __future__ import annotations

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from .prompts import EN

MENU_TIMEOUT = 6
HOLD_PAUSE = 20
RING_TIMEOUT = 20
VOICEMAIL_MAX_SECONDS = 120


def _say(response, text: str, lang: dict = EN) -> None:
    response.say(text, voice=lang["voice"], language=lang["language"])


def unknown_number() -> str:
    r = VoiceResponse()
    _say(r, EN["unknown_number"])
    r.hangup()
    return str(r)


def menu(practice_name: str | None, greeting: str | None, attempt: int, *, welcome: bool,
         prefix: str | None = None) -> str:
    """Welcome and advisory (first time only), then the menu; silence goes back to /ivr/menu."""
    r = VoiceResponse()
    if prefix:
        _say(r, prefix)
    if welcome:
        _say(r, greeting or EN["welcome"].format(practice=practice_name))
        _say(r, EN["advisory"])
    gather = Gather(input="dtmf", num_digits=1, timeout=MENU_TIMEOUT, action=f"/ivr/menu?attempt={attempt}",
                    method="POST")
    _say(gather, EN["menu"])
    r.append(gather)
    # No key pressed: Twilio falls through to the next verb.
    r.redirect(f"/ivr/menu?attempt={attempt}&silent=1", method="POST")
    return str(r)


def enqueue(queue_name: str, position: int, urgent: bool, prefix: str | None = None) -> str:
    r = VoiceResponse()
    if prefix:
        _say(r, prefix)
    _say(r, EN["urgent_queued"] if urgent else EN["queued"].format(position=position))
    r.enqueue(queue_name, wait_url="/ivr/wait", wait_url_method="POST", action="/ivr/queue-exit", method="POST")
    return str(r)


def hold(position: int | None) -> str:
    """The waitUrl document: position, then a pause; Twilio asks again when it runs out."""
    r = VoiceResponse()
    if position:
        _say(r, EN["hold"].format(position=position))
    r.pause(length=HOLD_PAUSE)
    return str(r)


def connect_to_agent(call_id: int, client_identity: str) -> str:
    r = VoiceResponse()
    _say(r, EN["connecting"])
    dial = Dial(action=f"/ivr/dial-done/{call_id}", method="POST", timeout=RING_TIMEOUT)
    dial.client(client_identity)
    r.append(dial)
    return str(r)


def redirect(url: str) -> str:
    r = VoiceResponse()
    r.redirect(url, method="POST")
    return str(r)


def goodbye() -> str:
    r = VoiceResponse()
    _say(r, EN["goodbye"])
    r.hangup()
    return str(r)


def safe_fallback() -> str:
    """When anything fails: take a voicemail so that someone calls back. Needs nothing but Twilio."""
    r = VoiceResponse()
    _say(r, EN["safe_fallback"])
    r.record(action="/ivr/voicemail", method="POST", max_length=VOICEMAIL_MAX_SECONDS, play_beep=True)
    _say(r, EN["voicemail_thanks"])
    r.hangup()
    return str(r)


def voicemail_saved() -> str:
    r = VoiceResponse()
    _say(r, EN["voicemail_thanks"])
    r.hangup()
    return str(r)


def empty() -> str:
    return str(VoiceResponse())


def sms_reply(text: str | None) -> str:
    r = MessagingResponse()
    if text:
        r.message(text)
    return str(r)


def agent_identity(agent_id: int) -> str:
    """The Twilio Client identity an agent's console registers as."""
    return f"agent-{agent_id}"
