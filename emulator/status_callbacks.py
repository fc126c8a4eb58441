"""Call status callbacks: separate signed requests per event, optionally late, doubled or out of order."""

from __future__ import annotations

import logging
import math
import queue
import time
import uuid

from .state import API_VERSION, Call, EmulatorState, now, rfc2822
from .webhooks import send_quietly

logger = logging.getLogger("emulator.status_callbacks")

EVENTS = ("initiated", "ringing", "answered", "completed")
_DONE = object()


def call_params(state: EmulatorState, call: Call) -> dict:
    """The fields Twilio puts on every voice request for `call` (lock held or call quiescent)."""
    params = {
        "AccountSid": call.account_sid,
        "CallSid": call.sid,
        "From": call.from_,
        "To": call.to,
        "Caller": call.from_,
        "Called": call.to,
        "CallStatus": call.status,
        "ApiVersion": API_VERSION,
        "Direction": call.direction,
    }
    if call.parent_sid:
        params["ParentCallSid"] = call.parent_sid
    return params


class StatusCallbacks:
    """Sends each call's status callbacks in order on a per-call worker thread."""

    def __init__(self, state: EmulatorState):
        self.state = state
        self.outboxes: dict[str, queue.Queue] = {}

    def target(self, call: Call) -> tuple[str | None, str, frozenset]:
        """Where this call's status callbacks go, and which events are wanted."""
        if call.status_callback:
            return call.status_callback, call.status_callback_method, call.status_callback_events
        if call.direction == "inbound":
            # A number's "Call status changes" URL hears only about the end of the call.
            return self.state.status_url, "POST", frozenset({"completed"})
        return None, "POST", frozenset()

    def emit(self, call: Call, event: str) -> None:
        """Report `event` for `call` if its callback asked for it (state lock must not be held)."""
        with self.state.lock:
            url, method, events = self.target(call)
            if not url or event not in events:
                if event == "completed":
                    self.outboxes.pop(call.sid, None)
                return
            params = call_params(self.state, call)
            params["CallStatus"] = {"initiated": "initiated", "ringing": "ringing",
                                    "answered": "in-progress"}.get(event, call.status)
            if event == "completed":
                seconds = call.duration_seconds(self.state.speed)
                params["CallDuration"] = str(seconds)
                params["Duration"] = str(math.ceil(seconds / 60))
            params["Timestamp"] = rfc2822(now())
            params["CallbackSource"] = "call-progress-events"
            params["SequenceNumber"] = str(call.sequence)
            call.sequence += 1
            outbox = self.outboxes.get(call.sid)
            fresh = outbox is None
            if fresh:
                outbox = self.outboxes[call.sid] = queue.Queue()
        outbox.put((url, method, params))
        if event == "completed":
            outbox.put(_DONE)
        if fresh:
            self.state.start_thread(self._work, call.sid, outbox, name=f"status-callbacks-{call.sid[:8]}")

    def _work(self, call_sid: str, outbox: queue.Queue) -> None:
        held = []
        while True:
            try:
                item = outbox.get(timeout=0.1)
            except queue.Empty:
                if self.state.closing:
                    break
                continue
            if item is _DONE:
                break
            if self.state.callback_chaos.reorder:
                held.append(item)
            else:
                self._send(*item)
        for item in reversed(held):
            self._send(*item)
        with self.state.lock:
            self.outboxes.pop(call_sid, None)

    def _send(self, url: str, method: str, params: dict) -> None:
        chaos = self.state.callback_chaos
        if chaos.delay:
            time.sleep(chaos.delay)
        token = str(uuid.uuid4())
        copies = 2 if chaos.duplicate else 1
        for _ in range(copies):  # a retry carries the same idempotency token
            send_quietly(self.state.auth_token, url, method, params, self.state.connect_timeout,
                         self.state.read_timeout, idempotency_token=token)
