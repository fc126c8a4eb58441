"""Parse and validate voice TwiML the way Twilio does before running it.

An invalid document is an application error for the caller (Twilio error 12100), so validation is
strict: wrong root, unknown verbs, verbs nested where Twilio does not allow them, and attribute values
outside Twilio's ranges are all refused.

Stricter than Twilio on purpose: for some bad attribute values Twilio only logs a warning and carries
on with the default (e.g. 13310 finishOnKey, 13313 timeout, 13314 numDigits, 13327 speechTimeout,
13232 startConferenceOnEnter). The emulator refuses those too, so that an app never ships TwiML that
works only by accident. A verb a conference's waitUrl may not use is Twilio's error 13238.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

# Verbs the emulator runs; Twilio also knows the second set, which it accepts but we only skip.
RUNNABLE = {"Say", "Play", "Pause", "Gather", "Redirect", "Hangup", "Reject", "Enqueue", "Leave", "Dial",
            "Record"}
SKIPPED = {"Connect", "Start", "Stop", "Pay", "Refer", "Sms", "Echo", "Prompt"}

# Which documents may use which verbs (FACTS: waitUrl and <Queue url> documents are restricted).
CONTEXT_VERBS = {
    "call": RUNNABLE | SKIPPED,
    "wait": {"Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"},
    "dial-queue": {"Play", "Say", "Pause", "Redirect"},
    "conference-wait": {"Play", "Say", "Pause", "Redirect"},
}
CONTEXT_ERROR = {"conference-wait": 13238}

SSML = {"break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w", "amazon:effect",
        "amazon:domain"}
CHILDREN = {
    "Say": SSML,
    "Gather": {"Say", "Play", "Pause"},
    "Dial": {"Number", "Client", "Conference", "Queue", "Sip", "Sim", "Application"},
    "Client": {"Identity", "Parameter"},
    "Application": {"ApplicationSid", "Parameter"},
    "Enqueue": {"Task"},
    "Connect": None,  # not emulated; anything goes
    "Start": None,
    "Stop": None,
    "Pay": None,
    "Refer": None,
    "Prompt": None,
}

DIGIT_KEYS = set("0123456789*#")
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")  # BCP 47 as Twilio writes it: en-US, es-US, cmn-Hans-CN
VOICE = re.compile(r"man|woman|alice|(Polly|Google)\.[A-Za-z0-9-]+")
DIAL_RECORD = {"do-not-record", "record-from-answer", "record-from-ringing", "record-from-answer-dual",
               "record-from-ringing-dual", "true", "false"}
RECORDING_EVENTS = {"in-progress", "completed", "absent"}
CONFERENCE_EVENTS = {"start", "end", "join", "leave", "mute", "hold", "modify", "speaker", "announcement"}


class TwimlError(Exception):
    """The document is not TwiML Twilio would run."""

    def __init__(self, message: str, code: int = 12100):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Verb:
    """One element of a TwiML document."""

    name: str
    attrs: dict = field(default_factory=dict)
    text: str = ""
    children: tuple = ()

    def attr(self, name: str, default=None):
        return self.attrs.get(name, default)

    def int_attr(self, name: str, default: int) -> int:
        value = self.attrs.get(name)
        return default if value in (None, "") else int(value)

    def bool_attr(self, name: str, default: bool = False) -> bool:
        value = self.attrs.get(name)
        return default if value is None else value.strip().lower() == "true"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _build(element) -> Verb:
    children = tuple(_build(child) for child in element)
    name = _local(element.tag)
    if name == "Say" or name in SSML:
        text = " ".join("".join(element.itertext()).split())  # what is heard, SSML markup dropped
    else:
        text = (element.text or "").strip()
    return Verb(name, dict(element.attrib), text, children)


def parse(document: str | bytes, context: str = "call") -> list[Verb]:
    """Parse a TwiML document into its verbs; raise TwimlError if Twilio would refuse it."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise TwimlError(f"Document parse failure: {exc}") from exc
    if _local(root.tag) != "Response":
        raise TwimlError(f"Root element must be <Response>, not <{_local(root.tag)}>")
    if (root.text or "").strip():
        raise TwimlError("Text directly inside <Response>")
    verbs = [_build(child) for child in root]
    allowed = CONTEXT_VERBS[context]
    for verb in verbs:
        if verb.name not in RUNNABLE | SKIPPED:
            raise TwimlError(f"Unknown verb <{verb.name}>")
        if verb.name not in allowed:
            raise TwimlError(f"<{verb.name}> is not allowed in this document ({context})",
                             CONTEXT_ERROR.get(context, 12100))
        _check_nesting(verb)
        _check_attributes(verb)
    return verbs


def _check_nesting(verb: Verb) -> None:
    allowed = SSML if verb.name in SSML else CHILDREN.get(verb.name, set())
    if allowed is None:
        return
    for child in verb.children:
        if child.name not in allowed:
            raise TwimlError(f"<{child.name}> may not be nested in <{verb.name}>")
        _check_nesting(child)
        _check_attributes(child)


def _positive_int(verb: Verb, name: str, minimum: int = 1, maximum: int | None = None) -> None:
    value = verb.attrs.get(name)
    if value is None:
        return
    if not re.fullmatch(r"\d+", value.strip()) or int(value) < minimum or (maximum and int(value) > maximum):
        bounds = f"{minimum}..{maximum}" if maximum else f">= {minimum}"
        raise TwimlError(f"<{verb.name}> {name}={value!r} must be an integer {bounds}")


def _choice(verb: Verb, name: str, choices: set[str], case_insensitive: bool = False) -> None:
    value = verb.attrs.get(name)
    if value is None:
        return
    probe = value.upper() if case_insensitive else value
    if probe not in choices:
        raise TwimlError(f"<{verb.name}> {name}={value!r} must be one of {sorted(choices)}")


def _check_attributes(verb: Verb) -> None:
    for method_attr in ("method", "waitUrlMethod", "statusCallbackMethod", "recordingStatusCallbackMethod",
                        "transcribeCallbackMethod"):
        _choice(verb, method_attr, {"GET", "POST"}, case_insensitive=True)
    for flag in ("actionOnEmptyResult", "playBeep", "transcribe", "hangupOnStar", "enhanced", "profanityFilter",
                 "startConferenceOnEnter", "endConferenceOnExit", "muted", "answerOnBridge"):
        if flag in verb.attrs and verb.attrs[flag].lower() not in {"true", "false"}:
            raise TwimlError(f"<{verb.name}> {flag}={verb.attrs[flag]!r} must be true or false")
    name = verb.name
    if name in {"Record", "Dial", "Conference"}:
        _choice(verb, "trim", {"trim-silence", "do-not-trim"})
    if name in {"Say", "Gather"} and "language" in verb.attrs and not LANGUAGE.fullmatch(verb.attrs["language"]):
        raise TwimlError(f"<{name}> language={verb.attrs['language']!r} is not a language code such as en-US")
    if name == "Say" and "voice" in verb.attrs and not VOICE.fullmatch(verb.attrs["voice"]):
        raise TwimlError(f"<Say> voice={verb.attrs['voice']!r} is not man, woman, alice, Polly.* or Google.*")
    if name in {"Say", "Play"}:
        _positive_int(verb, "loop", minimum=0, maximum=1000)
    if name == "Play" and not verb.text and "digits" not in verb.attrs:
        raise TwimlError("<Play> needs a URL")
    if name == "Play" and "digits" in verb.attrs and not re.fullmatch(r"[0-9*#wW]+", verb.attrs["digits"]):
        raise TwimlError(f"<Play> digits={verb.attrs['digits']!r} is not a digit string")
    if name == "Pause":
        _positive_int(verb, "length", minimum=0, maximum=600)
    if name == "Redirect" and not verb.text:
        raise TwimlError("<Redirect> needs a URL")
    if name == "Reject":
        _choice(verb, "reason", {"rejected", "busy"})
    if name == "Gather":
        _positive_int(verb, "timeout", minimum=1)
        _positive_int(verb, "numDigits", minimum=1)
        key = verb.attrs.get("finishOnKey")
        if key is not None and key != "" and (len(key) != 1 or key not in DIGIT_KEYS):
            raise TwimlError(f"<Gather> finishOnKey={key!r} must be one of 0-9, #, * or empty")
        tokens = verb.attrs.get("input", "dtmf").split()
        if not tokens or set(tokens) - {"dtmf", "speech"}:
            raise TwimlError(f"<Gather> input={verb.attrs.get('input')!r} must be dtmf, speech or both")
        speech_timeout = verb.attrs.get("speechTimeout")
        if speech_timeout is not None and speech_timeout != "auto":
            _positive_int(verb, "speechTimeout", minimum=0)
    if name == "Enqueue":
        if not verb.text and "workflowSid" not in verb.attrs:
            raise TwimlError("<Enqueue> needs a queue name")
        if len(verb.text) > 64:
            raise TwimlError("<Enqueue> queue name is longer than 64 characters")
    if name == "Dial":
        _positive_int(verb, "timeout", minimum=1, maximum=600)
        _positive_int(verb, "timeLimit", minimum=1, maximum=86400)
        if not verb.text and not verb.children:
            raise TwimlError("<Dial> needs a number or a noun")
        _choice(verb, "record", DIAL_RECORD)
        events = verb.attrs.get("recordingStatusCallbackEvent", "").replace(",", " ").split()
        if set(events) - RECORDING_EVENTS:
            raise TwimlError(f"<Dial> recordingStatusCallbackEvent={verb.attrs['recordingStatusCallbackEvent']!r} "
                             f"may hold only {sorted(RECORDING_EVENTS)}")
    if name == "Conference":
        _positive_int(verb, "maxParticipants", minimum=2, maximum=250)
        _choice(verb, "beep", {"true", "false", "onEnter", "onExit"})
        _choice(verb, "record", {"do-not-record", "record-from-start"})
        _choice(verb, "waitMethod", {"GET", "POST"}, case_insensitive=True)
        events = verb.attrs.get("statusCallbackEvent", "").replace(",", " ").split()
        if set(events) - CONFERENCE_EVENTS:
            raise TwimlError(f"<Conference> statusCallbackEvent={verb.attrs['statusCallbackEvent']!r} "
                             f"may hold only {sorted(CONFERENCE_EVENTS)}")
    if name == "Record":
        _positive_int(verb, "maxLength", minimum=1, maximum=86400)
        _positive_int(verb, "timeout", minimum=0)
        keys = verb.attrs.get("finishOnKey")
        if keys and set(keys) - DIGIT_KEYS:
            raise TwimlError(f"<Record> finishOnKey={keys!r} may hold only 0-9, #, *")
    if name in {"Client", "Number", "Sip"}:
        events = verb.attrs.get("statusCallbackEvent", "").replace(",", " ").split()
        if set(events) - {"initiated", "ringing", "answered", "completed"}:
            raise TwimlError(f"<{name}> statusCallbackEvent={verb.attrs['statusCallbackEvent']!r} "
                             "may hold only initiated, ringing, answered, completed")
    if name in {"Client", "Number", "Queue", "Conference", "Sip"} and not (
        verb.text or any(child.name == "Identity" for child in verb.children)
    ):
        raise TwimlError(f"<{name}> needs a value")
