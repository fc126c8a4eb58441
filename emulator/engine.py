"""Call execution: each live call has its own thread that fetches TwiML from the app and runs it verb by verb.

The verbs themselves live by concept: emulator/verbs.py (Say, Play, Pause, Gather, Redirect, Hangup,
Reject), queues.py (Enqueue), dial.py (Dial to clients, numbers and queues), conference.py
(<Dial><Conference>) and recording.py (Record). Each is a function taking the `LiveCall`, typed as the
`CallControl` protocol (emulator/call_control.py) so that verbs steer the call only through its methods.
Calls are placed (inbound from the softphone, outbound through the REST API) in emulator/placing.py.
"""

from __future__ import annotations

import logging
import time

import requests

from . import dial, queues, recording, twiml, verbs
from .call_control import Predicate
from .callflow import AppError, Bridged, CallerGone, Document, EndCall, Redirected, Woken
from .state import APP_ERROR_SPEECH, Call, EmulatorState, now
from .status_callbacks import call_params
from .twiml import TwimlError, Verb
from .webhooks import WebhookFailure, send, send_quietly

logger = logging.getLogger("emulator.engine")

XML_TYPES = {"text/xml", "application/xml", "text/html"}

# Verb name -> function(live_call, verb, document, **kw) returning the next target or None.
VERBS = {
    "Say": verbs.say,
    "Play": verbs.play,
    "Pause": verbs.pause,
    "Gather": verbs.gather,
    "Redirect": verbs.redirect,
    "Hangup": verbs.hangup,
    "Reject": verbs.reject,
    "Leave": verbs.leave,
    "Enqueue": queues.enqueue,
    "Dial": dial.dial,
    "Record": recording.record,
}


class LiveCall:
    """One call in progress, executing its TwiML on the call's own thread (the verbs' CallControl)."""

    def __init__(self, state: EmulatorState, call: Call):
        self.state = state
        self.call = call
        self.session = requests.Session()  # Twilio keeps cookies for the life of a call
        self._redirect_streak = 0
        self._bridge_expected = False
        self._wake_when: Predicate | None = None  # a test (lock held) that interrupts whatever plays, raising Woken

    # Interruptions the verbs arm (see CallControl) -------------------------------------------

    def wake_when(self, predicate: Predicate) -> None:
        """From now on, raise Woken out of any wait once `predicate()` (lock held) is true."""
        self._wake_when = predicate

    def stop_waking(self) -> None:
        """Forget the predicate `wake_when` set."""
        self._wake_when = None

    def expect_bridge(self) -> None:
        """From now on, raise Bridged out of any wait once <Dial><Queue> connects this call."""
        self._bridge_expected = True

    def stop_expecting_bridge(self) -> None:
        """A bridge no longer interrupts the call."""
        self._bridge_expected = False

    def count_redirect(self) -> int:
        """Count one more <Redirect>; return how many ran in a row."""
        self._redirect_streak += 1
        return self._redirect_streak

    # Waiting and interruptions -------------------------------------------------------------

    def _check(self) -> None:
        """Raise if someone outside interrupted the call (state lock held)."""
        call = self.call
        if call.hangup_requested or self.state.closing:
            raise CallerGone()
        if call.redirect is not None:
            target, call.redirect = call.redirect, None
            raise Redirected(target)
        if self._bridge_expected and call.bridge_sid:
            raise Bridged()
        if self._wake_when is not None and self._wake_when():
            raise Woken()

    def checkpoint(self) -> None:
        """Raise if the call was interrupted since the last look."""
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

    def hear(self, line: str, seconds: float, until=None, **extra) -> bool:
        """Put a line in the caller's transcript and let it play; True if `until` cut it short."""
        with self.state.changed:
            self.call.say(line, **extra)
            self.state.changed.notify_all()
        return self.wait(seconds, until)

    # Talking to the app ----------------------------------------------------------------------

    def params(self, extra: dict | None = None) -> dict:
        """The call's webhook parameters, plus `extra`."""
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
        """Parse TwiML; invalid TwiML is an application error."""
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
        fallback_url = start.get("fallback_url")
        try:
            target = start
            while target is not None:
                try:
                    document = self.fetch(target)
                    target = self.execute(document)
                except Redirected as redirect:
                    target = redirect.target
                except AppError as error:
                    if not fallback_url:
                        raise
                    # Twilio asks the number's Fallback URL once, with what went wrong, and carries on there.
                    logger.error("APPLICATION ERROR %s on call %s: %s (url: %s); asking the fallback URL",
                                 error.code, self.call.sid, error.message, error.url)
                    with self.state.changed:
                        self.call.errors.append({"code": error.code, "message": error.message, "url": error.url})
                    target = {"url": fallback_url, "method": "POST",
                              "params": {"ErrorCode": str(error.code), "ErrorUrl": error.url or ""}}
                    fallback_url = None
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
                self._redirect_streak = 0  # only redirects in a row count towards Twilio's limit
            if verb.name != "Reject":  # Twilio picks up unless the first verb rejects the call
                self.answer()
            handler = VERBS.get(verb.name)
            if handler is None:
                logger.warning("<%s> is valid TwiML but not emulated; skipped", verb.name)
                continue
            target = handler(self, verb, document)
            if isinstance(target, dict):
                return target
        return None

    def on_leg(self, leg: Call) -> LiveCall:
        """A LiveCall of its own for another call (a <Dial>'s leg running its whisper)."""
        return LiveCall(self.state, leg)

    def perform(self, verb: Verb, document: Document, **kw):
        """Run one verb inside another's document (a Gather's prompts, a wait document)."""
        return VERBS[verb.name](self, verb, document, **kw)

    def answer(self) -> None:
        """Pick up the call, once."""
        with self.state.changed:
            call = self.call
            if call.answered_at is None:
                call.status = "in-progress"
                call.start_time = now()
                call.answered_at = time.monotonic()
                self.state.changed.notify_all()

    def application_error(self, error: AppError) -> None:
        """Log an application error on the call and let the caller hear Twilio's apology."""
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
        self.state.status_callbacks.emit(self.call, "completed")

