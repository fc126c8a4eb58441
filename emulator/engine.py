"""Call execution: one thread per call fetches TwiML from the app and runs it verb by verb."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import urljoin

import requests

from . import conference, twiml
from .callbacks import call_params
from .state import APP_ERROR_SPEECH, Call, CallQueue, EmulatorState, Participant, QueueMember, new_sid, now
from .twiml import TwimlError, Verb
from .webhooks import WebhookFailure, send, send_quietly

logger = logging.getLogger("emulator.engine")

MAX_REDIRECTS_IN_A_ROW = 10
SECONDS_PER_WORD = 0.4  # about 150 words a minute
PLAY_SECONDS = 3.0  # we do not fetch audio, so every clip lasts this long
HOLD_MUSIC_SECONDS = 10.0
XML_TYPES = {"text/xml", "application/xml", "text/html"}


class CallerGone(Exception):
    """The caller hung up, or the call was ended through the REST API."""


class Redirected(Exception):
    """The call was redirected through the REST API; `target` says to what."""

    def __init__(self, target: dict):
        super().__init__("redirected")
        self.target = target


class Bridged(Exception):
    """A queued caller was picked up by <Dial><Queue>."""


class Woken(Exception):
    """What the call thread waited for (`CallRunner.wake_when`) happened: stop the wait music."""


class EndCall(Exception):
    """<Hangup> or <Reject>: the call ends with `status` (None: completed)."""

    def __init__(self, status: str | None = None):
        super().__init__(status or "completed")
        self.status = status


class AppError(Exception):
    """What Twilio reports as an application error; the caller hears the apology and the call ends."""

    def __init__(self, code: int, message: str, url: str | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.url = url


@dataclass
class Document:
    verbs: list[Verb]
    url: str  # relative URLs in the document resolve against this


def resolve(base: str, url: str | None) -> str | None:
    """Resolve a URL found in a TwiML document against the document's own URL."""
    if url is None or url == "":
        return None
    return urljoin(base.partition("#")[0], url.strip())


def speaking_seconds(text: str) -> float:
    return max(0.5, len(text.split()) * SECONDS_PER_WORD)


class CallRunner:
    """Runs one call's TwiML on its own thread."""

    def __init__(self, state: EmulatorState, call: Call):
        self.state = state
        self.call = call
        self.session = requests.Session()  # Twilio keeps cookies for the life of a call
        self.redirect_streak = 0
        self.expect_bridge = False
        self.wake_when = None  # a test (lock held) that interrupts whatever plays, raising Woken

    # Waiting and interruptions -------------------------------------------------------------

    def _check(self) -> None:
        """Raise if someone outside interrupted the call (state lock held)."""
        call = self.call
        if call.hangup_requested or self.state.closing:
            raise CallerGone()
        if call.redirect is not None:
            target, call.redirect = call.redirect, None
            raise Redirected(target)
        if self.expect_bridge and call.bridge_sid:
            raise Bridged()
        if self.wake_when is not None and self.wake_when():
            raise Woken()

    def checkpoint(self) -> None:
        with self.state.lock:
            self._check()

    def wait_real(self, seconds: float, until=None) -> bool:
        """Wait `seconds` of real time, or until `until()` (called with the lock held) is true."""
        deadline = time.monotonic() + seconds
        with self.state.changed:
            while True:
                self._check()
                if until is not None and until():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.state.changed.wait(remaining)

    def wait(self, seconds: float, until=None) -> bool:
        """Wait `seconds` of emulated time (scaled by speed); True if `until()` came true first."""
        return self.wait_real(self.state.scaled(seconds), until)

    def notify_changed(self) -> None:
        with self.state.changed:
            self.state.changed.notify_all()

    # Talking to the app ----------------------------------------------------------------------

    def params(self, extra: dict | None = None) -> dict:
        with self.state.lock:
            params = call_params(self.state, self.call)
        params.update(extra or {})
        return params

    def request(self, url: str, method: str, extra: dict | None = None):
        """Send a signed webhook for this call; raise AppError like Twilio would report."""
        params = self.params(extra)
        try:
            return send(self.session, self.state.auth_token, url, method, params,
                        self.state.connect_timeout, self.state.read_timeout)
        except WebhookFailure as exc:
            raise AppError(exc.code, exc.message, exc.url) from exc

    def fetch(self, target: dict, context: str = "call") -> Document:
        """Load the TwiML a target names: inline `twiml`, or a document fetched from `url`."""
        if "twiml" in target:
            return Document(self.parse(target["twiml"], context, target.get("url") or ""), target.get("url") or "")
        answer = self.request(target["url"], target.get("method") or "POST", target.get("params"))
        self.checkpoint()  # the answer is moot if the call was redirected or hung up meanwhile
        if answer.content_type.startswith("audio/"):
            return Document([Verb("Play", {}, answer.url)], answer.url)
        if answer.content_type not in XML_TYPES and not answer.text.lstrip().startswith("<"):
            raise AppError(12300, f"Invalid Content-Type {answer.content_type!r}", answer.url)
        return Document(self.parse(answer.text, context, answer.url), answer.url)

    def parse(self, text: str, context: str, url: str) -> list[Verb]:
        try:
            return twiml.parse(text, context)
        except TwimlError as exc:
            raise AppError(exc.code, str(exc), url) from exc

    def notify_app(self, url: str | None, method: str, extra: dict) -> None:
        """Tell the app something whose answer cannot be used any more (the call has moved on)."""
        if not url:
            return
        params = self.params(extra)
        send_quietly(self.state.auth_token, url, method, params, self.state.connect_timeout,
                     self.state.read_timeout)

    # The call's life -------------------------------------------------------------------------

    def run(self, start: dict) -> None:
        """Run the call from `start` ({"url", "method"} or {"twiml"}) until it ends."""
        final_status = None
        try:
            target = start
            while target is not None:
                try:
                    document = self.fetch(target)
                    target = self.execute(document)
                except Redirected as redirect:
                    target = redirect.target
        except CallerGone:
            pass
        except EndCall as end:
            final_status = end.status
        except AppError as error:
            self.application_error(error)
        except Exception:  # a bug in the emulator must not leave a call hanging forever
            logger.exception("emulator failure on call %s", self.call.sid)
            self.application_error(AppError(12400, "Internal emulator failure"))
        finally:
            self.finish(final_status)

    def execute(self, document: Document) -> dict | None:
        """Run a document's verbs; return the next target, or None when the document runs out."""
        for verb in document.verbs:
            self.checkpoint()
            if verb.name != "Redirect":
                self.redirect_streak = 0
            if verb.name != "Reject":  # Twilio picks up unless the first verb rejects the call
                self.answer()
            handler = getattr(self, "verb_" + verb.name.lower(), None)
            if handler is None:
                logger.warning("<%s> is valid TwiML but not emulated; skipped", verb.name)
                continue
            target = handler(verb, document)
            if isinstance(target, dict):
                return target
        return None

    def answer(self) -> None:
        with self.state.changed:
            call = self.call
            if call.answered_at is None:
                call.status = "in-progress"
                call.start_time = now()
                call.answered_at = time.monotonic()
                self.state.changed.notify_all()

    def application_error(self, error: AppError) -> None:
        self.answer()  # Twilio picks up to apologise, so the call ends as completed
        logger.error("APPLICATION ERROR %s on call %s: %s (url: %s)", error.code, self.call.sid,
                     error.message, error.url)
        with self.state.changed:
            self.call.errors.append({"code": error.code, "message": error.message, "url": error.url})
            self.call.say(APP_ERROR_SPEECH, voice="woman", language="en-US")
            self.state.changed.notify_all()

    def finish(self, status: str | None = None) -> None:
        """End the call, record its final state and send the 'completed' status callback."""
        with self.state.changed:
            call = self.call
            if not call.ended:
                if status is None:
                    status = "completed" if call.answered_at is not None else "canceled"
                call.status = status
                call.end_time = now()
                call.ended_at = time.monotonic()
            call.awaiting_input = None
            call.queue_name = None
            call.connected_to = None
            self.state.changed.notify_all()
        self.session.close()
        self.state.callbacks.emit(self.call, "completed")

    # Verbs -----------------------------------------------------------------------------------

    def hear(self, line: str, seconds: float, until=None, **extra) -> bool:
        """Put a line in the caller's transcript and let it play; True if `until` cut it short."""
        with self.state.changed:
            self.call.say(line, **extra)
            self.state.changed.notify_all()
        return self.wait(seconds, until)

    def verb_say(self, verb: Verb, document: Document, until=None) -> bool:
        loops = verb.int_attr("loop", 1) or 1000  # loop="0" repeats until the call moves on
        for _ in range(loops):
            if self.hear(verb.text, speaking_seconds(verb.text), until,
                         voice=verb.attr("voice", "man"), language=verb.attr("language", "en-US")):
                return True
        return False

    def verb_play(self, verb: Verb, document: Document, until=None) -> bool:
        loops = verb.int_attr("loop", 1) or 1000
        digits = verb.attr("digits")
        line = f"[plays tones {digits}]" if digits else f"[plays audio {resolve(document.url, verb.text)}]"
        for _ in range(loops):
            if self.hear(line, PLAY_SECONDS, until):
                return True
        return False

    def verb_pause(self, verb: Verb, document: Document, until=None) -> bool:
        return self.wait(verb.int_attr("length", 1), until)

    def verb_redirect(self, verb: Verb, document: Document) -> dict:
        self.redirect_streak += 1
        if self.redirect_streak > MAX_REDIRECTS_IN_A_ROW:
            raise AppError(11215, f"More than {MAX_REDIRECTS_IN_A_ROW} redirects in a row", document.url)
        return {"url": resolve(document.url, verb.text), "method": verb.attr("method", "POST")}

    def verb_hangup(self, verb: Verb, document: Document):
        raise EndCall()

    def verb_reject(self, verb: Verb, document: Document):
        if self.call.answered_at is not None:
            raise EndCall()
        raise EndCall("busy" if verb.attr("reason") == "busy" else "no-answer")

    def verb_leave(self, verb: Verb, document: Document) -> None:
        return None  # outside a queue there is nothing to leave

    def verb_gather(self, verb: Verb, document: Document) -> dict | None:
        call = self.call
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

        with self.state.changed:
            call.digits.clear()  # keys pressed before the Gather started are not heard
            call.speech.clear()
            call.awaiting_input = " ".join(modes)
            self.state.changed.notify_all()
        digits, speech, finished_on_key = "", None, ""
        try:
            for prompt in verb.children:
                handler = getattr(self, "verb_" + prompt.name.lower())
                if handler(prompt, document, until=has_input):
                    break  # the caller barged in
            done = False
            while not done and self.wait(timeout, until=has_input):
                with self.state.lock:
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
            with self.state.changed:
                call.awaiting_input = None
                self.state.changed.notify_all()
        if speech is not None:
            params = {"SpeechResult": speech, "Confidence": "0.92", "Language": verb.attr("language", "en-US")}
            return {"url": action, "method": method, "params": params}
        if digits or verb.bool_attr("actionOnEmptyResult"):
            params = {"Digits": digits} if "dtmf" in modes else {}
            if "dtmf" in modes:
                params["FinishedOnKey"] = finished_on_key
            return {"url": action, "method": method, "params": params}
        return None  # no input: on to the next verb

    def verb_record(self, verb: Verb, document: Document) -> dict | None:
        call = self.call
        timeout = verb.int_attr("timeout", 5)
        max_length = verb.int_attr("maxLength", 3600)
        finish_keys = verb.attr("finishOnKey", "1234567890*#")
        action = resolve(document.url, verb.attr("action")) or document.url
        if verb.bool_attr("playBeep", True):
            with self.state.changed:
                call.say("[beep]", who="system")
                self.state.changed.notify_all()
        with self.state.changed:
            call.digits.clear()
            call.speech.clear()
            call.awaiting_input = "record"
            self.state.changed.notify_all()

        def finish_key_pressed() -> bool:
            while call.digits and call.digits[0] not in finish_keys:
                call.digits.popleft()
            return bool(call.digits)

        spoken, key = None, ""
        try:
            if self.wait(max_length if timeout == 0 else min(timeout, max_length),
                         until=lambda: bool(call.speech) or finish_key_pressed()):
                with self.state.lock:
                    if call.speech:
                        spoken = call.speech.popleft()
                    else:
                        key = call.digits.popleft()
                if spoken is not None and self.wait(timeout or 1, until=finish_key_pressed):
                    with self.state.lock:
                        key = call.digits.popleft()  # the caller ended the message with a key
        finally:
            with self.state.changed:
                call.awaiting_input = None
                self.state.changed.notify_all()
        if spoken is None:
            return None  # nothing recorded: Twilio goes on to the next verb
        recording_sid = new_sid("RE")
        duration = max(1, round(speaking_seconds(spoken)))
        url = f"{self.state.base_url}/2010-04-01/Accounts/{call.account_sid}/Recordings/{recording_sid}"
        with self.state.lock:
            self.state.recordings[recording_sid] = {"sid": recording_sid, "call_sid": call.sid, "text": spoken,
                                                    "duration": duration, "date_created": now()}
        callback = resolve(document.url, verb.attr("transcribeCallback"))
        if callback:
            fields = self.params({"TranscriptionText": spoken, "TranscriptionStatus": "completed",
                                  "TranscriptionSid": new_sid("TR"), "TranscriptionType": "fast",
                                  "TranscriptionUrl": url.replace("/Recordings/", "/Transcriptions/"),
                                  "RecordingSid": recording_sid, "RecordingUrl": url,
                                  "CallStatus": "completed"})
            self.state.start_thread(send_quietly, self.state.auth_token, callback, "POST", fields,
                                    name="transcription")
        params = {"RecordingUrl": url, "RecordingSid": recording_sid, "RecordingDuration": str(duration)}
        if key:
            params["Digits"] = key
        return {"url": action, "method": verb.attr("method", "POST"), "params": params}

    # Queues ----------------------------------------------------------------------------------

    def queue_params(self, queue: CallQueue, entered: float) -> dict:
        with self.state.lock:
            return {
                "QueuePosition": str(queue.position(self.call.sid) or 0),
                "QueueSid": queue.sid,
                "QueueTime": str(int((time.monotonic() - entered) * self.state.speed)),
                "AvgQueueTime": str(queue.average_wait(self.state.speed)),
                "CurrentQueueSize": str(len(queue.members)),
                "MaxQueueSize": str(queue.max_size),
            }

    def verb_enqueue(self, verb: Verb, document: Document) -> dict | None:
        call = self.call
        action = resolve(document.url, verb.attr("action"))
        method = verb.attr("method", "POST")
        wait_url = resolve(document.url, verb.attr("waitUrl"))
        wait_method = verb.attr("waitUrlMethod", "POST")
        entered = time.monotonic()
        with self.state.changed:
            queue = self.state.queue_by_name(verb.text)
            full = len(queue.members) >= queue.max_size
            if not full:
                queue.members.append(QueueMember(call.sid, entered))
                queue.date_updated = now()
                call.queue_name = queue.friendly_name
            self.state.changed.notify_all()

        def outcome(result: str) -> dict:
            return {"QueueResult": result, "QueueSid": queue.sid,
                    "QueueTime": str(int((time.monotonic() - entered) * self.state.speed))}

        if full:
            result = "queue-full"
        else:
            try:
                result = self.hold(queue, entered, wait_url, wait_method)
            except Redirected:
                self.leave_queue(queue, entered)
                self.notify_app(action, method, outcome("redirected"))  # requested right away; answer unused
                raise
            except CallerGone:
                self.leave_queue(queue, entered)
                self.notify_app(action, method, outcome("hangup"))
                raise
            except Bridged:
                self.leave_queue(queue, entered)
                try:
                    result = self.stay_bridged()
                except CallerGone:
                    self.notify_app(action, method, outcome("bridged"))  # after both sides hung up
                    raise
            except BaseException:
                self.leave_queue(queue, entered)
                raise
            else:
                self.leave_queue(queue, entered)
        if result == "hangup":
            self.notify_app(action, method, outcome(result))
            raise EndCall()
        if action:
            return {"url": action, "method": method, "params": outcome(result)}
        return None

    def leave_queue(self, queue: CallQueue, entered: float) -> None:
        with self.state.changed:
            if queue.position(self.call.sid):
                queue.members = [m for m in queue.members if m.call_sid != self.call.sid]
                queue.total_wait += time.monotonic() - entered
                queue.served += 1
                queue.date_updated = now()
            self.call.queue_name = None
            self.state.changed.notify_all()

    def hold(self, queue: CallQueue, entered: float, wait_url: str | None, wait_method: str) -> str:
        """Play the wait document until the caller leaves the queue; return the QueueResult."""
        self.expect_bridge = True
        try:
            if not wait_url:
                while True:  # Twilio's default: a classical music playlist
                    self.hear("[hold music]", HOLD_MUSIC_SECONDS, who="system")
            target = {"url": wait_url, "method": wait_method}
            while True:
                target.setdefault("params", {}).update(self.queue_params(queue, entered))
                document = self.fetch(target, context="wait")
                target = {"url": wait_url, "method": wait_method}
                started = time.monotonic()
                for verb in document.verbs:
                    self.checkpoint()
                    if verb.name == "Leave":
                        return "leave"
                    if verb.name == "Hangup":
                        return "hangup"
                    if verb.name == "Redirect":
                        target = {"url": resolve(document.url, verb.text), "method": verb.attr("method", "POST")}
                        break
                    if verb.name == "Gather":
                        answer = self.verb_gather(verb, document)
                        if answer is not None:
                            target = answer
                            break
                        continue
                    getattr(self, "verb_" + verb.name.lower())(verb, document)
                if time.monotonic() - started < 0.05:
                    self.wait(1.0)  # a wait document that takes no time must not hammer the app
        finally:
            self.expect_bridge = False

    def stay_bridged(self) -> str:
        """A queued caller was dequeued by <Dial><Queue>: stay connected until that bridge ends."""
        call = self.call
        self.wait_real(10**9, until=lambda: call.bridge_sid is None)
        return "bridged"

    # Dial ------------------------------------------------------------------------------------

    def verb_dial(self, verb: Verb, document: Document) -> dict | None:
        call = self.call
        action = resolve(document.url, verb.attr("action"))
        method = verb.attr("method", "POST")
        timeout = verb.int_attr("timeout", 30)
        time_limit = verb.int_attr("timeLimit", 14400)
        nouns = list(verb.children) or [Verb("Number", {}, verb.text)]
        if any(noun.name == "Queue" for noun in nouns):
            return self.dial_queue(verb, nouns[0], document)
        if any(noun.name == "Conference" for noun in nouns):
            return self.dial_conference(verb, nouns[0], document)
        caller_id = verb.attr("callerId") or call.from_
        legs = []
        with self.state.changed:
            for noun in nouns:
                if noun.name == "Client":
                    identity = noun.text or next((c.text for c in noun.children if c.name == "Identity"), "")
                    to = f"client:{identity}"
                elif noun.name in {"Number", "Sip", "Sim"}:
                    to = noun.text
                else:
                    logger.warning("<Dial><%s> is not emulated; the dial fails", noun.name)
                    continue
                leg = Call(sid=new_sid("CA"), account_sid=call.account_sid, from_=caller_id, to=to,
                           direction="outbound-dial", status="ringing", parent_sid=call.sid)
                self.state.calls[leg.sid] = leg
                legs.append(leg)
            call.connected_to = None
            self.state.changed.notify_all()
        ring_started = time.monotonic()
        ring_for = self.state.scaled(self.state.client_ring_seconds)

        def auto_answer_due(leg: Call) -> bool:
            identity = leg.to.removeprefix("client:")
            return (leg.to.startswith("client:") and identity not in self.state.unreachable_clients
                    and time.monotonic() - ring_started >= ring_for)

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
                params["DialCallDuration"] = str(leg.duration_seconds(self.state.speed))
            return params

        answered = None
        try:
            deadline = ring_started + self.state.scaled(timeout)
            while legs and not answered:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                # Wake up in time to auto-answer browser clients.
                if any(leg.to.startswith("client:") and leg.to[7:] not in self.state.unreachable_clients
                       for leg in legs) and time.monotonic() - ring_started < ring_for:
                    remaining = min(remaining, ring_for - (time.monotonic() - ring_started) + 0.001)
                self.wait_real(remaining, until=settled)
                with self.state.lock:
                    answered = next((leg for leg in legs if leg.answer_requested), None)
                    if not answered and all(leg.decline_requested or leg.hangup_requested for leg in legs):
                        break
        except (CallerGone, Redirected):
            self.end_legs(legs, "canceled")
            self.notify_app(action, method, result("canceled", None))
            raise
        if answered is None:
            with self.state.lock:
                declined = bool(legs) and all(leg.decline_requested for leg in legs)
            status = "busy" if declined else ("no-answer" if legs else "failed")
            self.end_legs(legs, status)
            if action:
                return {"url": action, "method": method, "params": result(status, None)}
            return None
        self.end_legs([leg for leg in legs if leg is not answered], "canceled")
        with self.state.changed:
            answered.status = "in-progress"
            answered.start_time = now()
            answered.answered_at = time.monotonic()
            answered.connected_to = call.from_
            answered.bridge_sid = call.sid
            call.connected_to = answered.to
            call.bridge_sid = answered.sid
            call.say(f"[connected to {answered.to}]", who="system")
            answered.say(f"[connected to {call.from_}]", who="system")
            self.state.changed.notify_all()
        try:
            self.wait(time_limit, until=lambda: answered.hangup_requested)
        except (CallerGone, Redirected):
            self.end_legs([answered], "completed")
            self.unbridge()
            self.notify_app(action, method, result("completed", answered))
            raise
        self.end_legs([answered], "completed")
        self.unbridge()
        if action:
            return {"url": action, "method": method, "params": result("completed", answered)}
        return None

    def unbridge(self) -> None:
        with self.state.changed:
            if self.call.connected_to:
                self.call.say(f"[{self.call.connected_to} hung up]", who="system")
            self.call.connected_to = None
            self.call.bridge_sid = None
            self.state.changed.notify_all()

    def end_legs(self, legs: list[Call], status: str) -> None:
        """End legs of a Dial that have no TwiML of their own."""
        ended = []
        with self.state.changed:
            for leg in legs:
                if leg.ended:
                    continue
                leg.status = "completed" if leg.answered_at is not None else status
                leg.end_time = now()
                leg.ended_at = time.monotonic()
                leg.connected_to = None
                leg.bridge_sid = None
                ended.append(leg)
            self.state.changed.notify_all()
        for leg in ended:
            self.state.callbacks.emit(leg, "completed")

    def dial_queue(self, verb: Verb, noun: Verb, document: Document) -> dict | None:
        """<Dial><Queue>: bridge this call to the caller at the front of the queue."""
        call = self.call
        action = resolve(document.url, verb.attr("action"))
        method = verb.attr("method", "POST")
        with self.state.changed:
            queue = self.state.queue_by_name(noun.text, create=False)
            member = queue.members[0] if queue and queue.members else None
            other = self.state.calls.get(member.call_sid) if member else None
            if other is not None:
                queue.members.pop(0)
                other.bridge_sid = call.sid
                other.connected_to = call.to if call.direction == "inbound" else call.from_
                other.queue_name = None
                call.bridge_sid = other.sid
                call.connected_to = other.from_
                call.say(f"[connected to {other.from_}]", who="system")
                other.say(f"[connected to {other.connected_to}]", who="system")
            self.state.changed.notify_all()
        if other is None:
            params = {"DialCallStatus": "failed", "QueueSid": queue.sid if queue else ""}
            return {"url": action, "method": method, "params": params} if action else None
        started = time.monotonic()
        try:
            self.wait_real(10**9, until=lambda: other.ended or other.bridge_sid != call.sid)
        finally:
            with self.state.changed:
                if other.bridge_sid == call.sid:
                    other.bridge_sid = None
                    other.connected_to = None
                call.bridge_sid = None
                call.connected_to = None
                self.state.changed.notify_all()
        params = {"DialCallStatus": "completed", "DialCallSid": other.sid, "QueueSid": queue.sid,
                  "DialCallDuration": str(int((time.monotonic() - started) * self.state.speed))}
        return {"url": action, "method": method, "params": params} if action else None


    # Conference ------------------------------------------------------------------------------

    def dial_conference(self, verb: Verb, noun: Verb, document: Document) -> dict | None:
        """<Dial><Conference>: wait in the named room until it starts, talk until it ends or we leave."""
        state, call = self.state, self.call
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
            room, events = conference.join(state, call, noun.text, participant,
                                           noun.int_attr("maxParticipants", 250), callback)
            state.changed.notify_all()
        conference.send_events(state, events)
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
                self.wake_when = lambda: room.status != "init" or leaving()
                try:
                    self.conference_wait(noun, document)
                except Woken:
                    pass
                finally:
                    self.wake_when = None
            self.wait(verb.int_attr("timeLimit", 14400), until=leaving)
        except (CallerGone, Redirected):
            self.leave_conference(room)
            self.notify_app(action, method, result())  # requested at once; its answer is unused
            raise
        except BaseException:  # an application error in the waitUrl, say: the call ends, so it leaves
            self.leave_conference(room)
            raise
        self.leave_conference(room)
        return {"url": action, "method": method, "params": result()} if action else None

    def leave_conference(self, room) -> None:
        with self.state.changed:
            events = conference.leave(self.state, room, self.call.sid)
            self.state.changed.notify_all()
        conference.send_events(self.state, events)

    def conference_wait(self, noun: Verb, document: Document) -> None:
        """What a participant hears until the room starts (this only returns by raising)."""
        wait_url = noun.attrs.get("waitUrl")
        if wait_url is None:  # Twilio's default hold music
            while True:
                self.hear("[hold music]", HOLD_MUSIC_SECONDS, who="system")
        if not wait_url.strip():  # waitUrl="": silence
            self.wait_real(10**9)
        target = {"url": resolve(document.url, wait_url), "method": noun.attr("waitMethod", "POST")}
        while True:
            wait_document = self.fetch(target, context="conference-wait")
            target = {"url": resolve(document.url, wait_url), "method": noun.attr("waitMethod", "POST")}
            started = time.monotonic()
            for wait_verb in wait_document.verbs:
                self.checkpoint()
                if wait_verb.name == "Redirect":
                    target = {"url": resolve(wait_document.url, wait_verb.text),
                              "method": wait_verb.attr("method", "POST")}
                    break
                getattr(self, "verb_" + wait_verb.name.lower())(wait_verb, wait_document)
            if time.monotonic() - started < 0.05:
                self.wait(1.0)  # a wait document that takes no time must not hammer the app


# Starting calls ------------------------------------------------------------------------------

def place_inbound_call(state: EmulatorState, from_: str, to: str) -> Call:
    """A softphone dials `to`: Twilio asks the number's voice URL what to do."""
    call = Call(sid=new_sid("CA"), account_sid=state.account_sid, from_=from_, to=to, direction="inbound",
                status="ringing")
    with state.changed:
        state.calls[call.sid] = call
        state.changed.notify_all()
    runner = CallRunner(state, call)
    if not state.voice_url:
        runner.application_error(AppError(11200, "No voice URL configured for this number"))
        runner.finish()
        return call
    state.start_thread(runner.run, {"url": state.voice_url, "method": "POST"}, name=f"call-{call.sid[:8]}")
    return call


def place_outbound_call(state: EmulatorState, call: Call, start: dict, ring_timeout: int = 60) -> None:
    """A call created through the REST API: ring `call.to`, then run `start` once answered."""
    with state.changed:
        state.calls[call.sid] = call
        state.changed.notify_all()
    state.start_thread(_ring_then_run, state, call, start, ring_timeout, name=f"call-{call.sid[:8]}")


def _ring_then_run(state: EmulatorState, call: Call, start: dict, ring_timeout: int) -> None:
    runner = CallRunner(state, call)
    with state.changed:
        call.status = "initiated"
        state.changed.notify_all()
    state.callbacks.emit(call, "initiated")
    with state.changed:
        call.status = "ringing"
        state.changed.notify_all()
    state.callbacks.emit(call, "ringing")
    started = time.monotonic()
    ring_for = state.scaled(state.client_ring_seconds)
    is_client = call.to.startswith("client:") and call.to[7:] not in state.unreachable_clients

    def picked_up() -> bool:
        if is_client and time.monotonic() - started >= ring_for:
            call.answer_requested = True
        return call.answer_requested or call.decline_requested

    deadline = started + state.scaled(ring_timeout)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                runner.finish("no-answer")
                return
            try:
                step = min(remaining, ring_for) if is_client else remaining
                if runner.wait_real(step, until=picked_up):
                    break
            except Redirected as redirect:
                start = redirect.target  # updating a ringing call changes what runs once it is answered
    except CallerGone:
        runner.finish("canceled")
        return
    if call.decline_requested:
        runner.finish("busy")
        return
    runner.answer()
    state.callbacks.emit(call, "answered")
    runner.run(start)
