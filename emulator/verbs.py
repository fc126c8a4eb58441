"""The simple verbs: <Say>, <Play>, <Pause>, <Gather>, <Redirect>, <Hangup>, <Reject> and a stray <Leave>.

Each verb is a function taking the call's live, the verb and the document it came from; it returns
the next target ({"url", "method", "params"}) to move the call on, or None for the next verb. Prompts
(<Say>, <Play>, <Pause>) also take `until`, and return True when it cut them short.
"""

from __future__ import annotations

from .call_control import CallControl
from .callflow import AppError, Document, EndCall, resolve, speaking_seconds
from .twiml import Verb

MAX_REDIRECTS_IN_A_ROW = 10
PLAY_SECONDS = 3.0  # we do not fetch audio, so every clip lasts this long


def say(live: CallControl, verb: Verb, document: Document, until=None) -> bool:
    """<Say>: speak the text, `loop` times."""
    loops = verb.int_attr("loop", 1) or 1000  # loop="0" repeats until the call moves on
    for _ in range(loops):
        if live.hear(verb.text, speaking_seconds(verb.text), until,
                       voice=verb.attr("voice", "man"), language=verb.attr("language", "en-US")):
            return True
    return False


def play(live: CallControl, verb: Verb, document: Document, until=None) -> bool:
    """<Play>: play a clip or tones, `loop` times."""
    loops = verb.int_attr("loop", 1) or 1000
    digits = verb.attr("digits")
    line = f"[plays tones {digits}]" if digits else f"[plays audio {resolve(document.url, verb.text)}]"
    for _ in range(loops):
        if live.hear(line, PLAY_SECONDS, until):
            return True
    return False


def pause(live: CallControl, verb: Verb, document: Document, until=None) -> bool:
    """<Pause>: silence for `length` seconds."""
    return live.wait(verb.int_attr("length", 1), until)


def redirect(live: CallControl, verb: Verb, document: Document) -> dict:
    """<Redirect>: go on with the document at the URL."""
    if live.count_redirect() > MAX_REDIRECTS_IN_A_ROW:
        raise AppError(11215, f"More than {MAX_REDIRECTS_IN_A_ROW} redirects in a row", document.url)
    return {"url": resolve(document.url, verb.text), "method": verb.attr("method", "POST")}


def hangup(live: CallControl, verb: Verb, document: Document):
    """<Hangup>: end the call."""
    raise EndCall()


def reject(live: CallControl, verb: Verb, document: Document):
    """<Reject>: refuse an unanswered call as busy or no-answer (an answered one just ends)."""
    if live.call.answered_at is not None:
        raise EndCall()
    raise EndCall("busy" if verb.attr("reason") == "busy" else "no-answer")


def leave(live: CallControl, verb: Verb, document: Document) -> None:
    """<Leave> outside a queue: there is nothing to leave."""
    return None


def gather(live: CallControl, verb: Verb, document: Document) -> dict | None:
    """<Gather>: play the prompts, then collect keys or speech and post them to the action."""
    state, call = live.state, live.call
    modes = verb.attr("input", "dtmf").split()
    timeout = verb.int_attr("timeout", 5)
    num_digits = verb.int_attr("numDigits", 0)
    finish_key = verb.attr("finishOnKey", "#")
    action = resolve(document.url, verb.attr("action")) or document.url
    method = verb.attr("method", "POST")

    def has_input() -> bool:
        if "dtmf" not in modes:
            call.digits.clear()
        if "speech" not in modes:
            call.speech.clear()
        return bool(call.digits or call.speech)

    with state.changed:
        call.digits.clear()  # keys pressed before the Gather started are not heard
        call.speech.clear()
        call.awaiting_input = " ".join(modes)
        state.changed.notify_all()
    digits, speech, finished_on_key = "", None, ""
    try:
        for prompt in verb.children:
            if live.perform(prompt, document, until=has_input):
                break  # the caller barged in
        done = False
        while not done and live.wait(timeout, until=has_input):
            with state.lock:
                if call.speech:
                    speech = call.speech.popleft()
                    break
                while call.digits:
                    key = call.digits.popleft()
                    if finish_key and key == finish_key:
                        finished_on_key, done = key, True
                        break
                    digits += key
                    if num_digits and len(digits) >= num_digits:
                        done = True
                        break
    finally:
        with state.changed:
            call.awaiting_input = None
            state.changed.notify_all()
    if speech is not None:
        params = {"SpeechResult": speech, "Confidence": "0.92", "Language": verb.attr("language", "en-US")}
        return {"url": action, "method": method, "params": params}
    if digits or verb.bool_attr("actionOnEmptyResult"):
        params = {"Digits": digits} if "dtmf" in modes else {}
        if "dtmf" in modes:
            params["FinishedOnKey"] = finished_on_key
        return {"url": action, "method": method, "params": params}
    return None  # no input: on to the next verb
