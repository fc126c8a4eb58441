"""<Enqueue> and the wait document a queued caller hears until <Leave>, <Hangup> or <Dial><Queue> takes them out."""

from __future__ import annotations

import time

from . import verbs
from .call_control import CallControl
from .callflow import HOLD_MUSIC_SECONDS, Bridged, CallerGone, Document, EndCall, Redirected, resolve
from .state import CallQueue, QueueMember, now
from .twiml import Verb


def enqueue(live: CallControl, verb: Verb, document: Document) -> dict | None:
    """<Enqueue>: wait in the named queue; the action hears how the wait ended (QueueResult)."""
    state, call = live.state, live.call
    action = resolve(document.url, verb.attr("action"))
    method = verb.attr("method", "POST")
    wait_url = resolve(document.url, verb.attr("waitUrl"))
    wait_method = verb.attr("waitUrlMethod", "POST")
    entered = time.monotonic()
    with state.changed:
        queue = state.queue_by_name(verb.text)
        full = len(queue.members) >= queue.max_size
        if not full:
            queue.members.append(QueueMember(call.sid, entered))
            queue.date_updated = now()
            call.queue_name = queue.friendly_name
        state.changed.notify_all()

    def outcome(result: str) -> dict:
        return {"QueueResult": result, "QueueSid": queue.sid,
                "QueueTime": str(int((time.monotonic() - entered) * state.speed))}

    if full:
        result = "queue-full"
    else:
        try:
            result = _hold(live, queue, entered, wait_url, wait_method)
        except Redirected:
            _leave_queue(live, queue, entered)
            live.notify_app(action, method, outcome("redirected"))  # requested right away; answer unused
            raise
        except CallerGone:
            _leave_queue(live, queue, entered)
            live.notify_app(action, method, outcome("hangup"))
            raise
        except Bridged:
            _leave_queue(live, queue, entered)
            try:
                result = _stay_bridged(live)
            except CallerGone:
                live.notify_app(action, method, outcome("bridged"))  # after both sides hung up
                raise
        except BaseException:
            _leave_queue(live, queue, entered)
            raise
        else:
            _leave_queue(live, queue, entered)
    if result == "hangup":
        live.notify_app(action, method, outcome(result))
        raise EndCall()
    if action:
        return {"url": action, "method": method, "params": outcome(result)}
    return None


def _queue_params(live: CallControl, queue: CallQueue, entered: float) -> dict:
    """What Twilio tells the waitUrl about the caller's place in the queue."""
    state = live.state
    with state.lock:
        return {
            "QueuePosition": str(queue.position(live.call.sid) or 0),
            "QueueSid": queue.sid,
            "QueueTime": str(int((time.monotonic() - entered) * state.speed)),
            "AvgQueueTime": str(queue.average_wait(state.speed)),
            "CurrentQueueSize": str(len(queue.members)),
            "MaxQueueSize": str(queue.max_size),
        }


def _leave_queue(live: CallControl, queue: CallQueue, entered: float) -> None:
    state, call = live.state, live.call
    with state.changed:
        if queue.position(call.sid):
            queue.members = [m for m in queue.members if m.call_sid != call.sid]
            queue.total_wait += time.monotonic() - entered
            queue.served += 1
            queue.date_updated = now()
        call.queue_name = None
        state.changed.notify_all()


def _hold(live: CallControl, queue: CallQueue, entered: float, wait_url: str | None, wait_method: str) -> str:
    """Play the wait document until the caller leaves the queue; return the QueueResult."""
    live.expect_bridge()
    try:
        if not wait_url:
            while True:  # Twilio's default: a classical music playlist
                live.hear("[hold music]", HOLD_MUSIC_SECONDS, who="system")
        target = {"url": wait_url, "method": wait_method}
        while True:
            target.setdefault("params", {}).update(_queue_params(live, queue, entered))
            document = live.fetch(target, context="wait")
            target = {"url": wait_url, "method": wait_method}
            started = time.monotonic()
            for verb in document.verbs:
                live.checkpoint()
                if verb.name == "Leave":
                    return "leave"
                if verb.name == "Hangup":
                    return "hangup"
                if verb.name == "Redirect":
                    target = {"url": resolve(document.url, verb.text), "method": verb.attr("method", "POST")}
                    break
                if verb.name == "Gather":
                    answer = verbs.gather(live, verb, document)
                    if answer is not None:
                        target = answer
                        break
                    continue
                live.perform(verb, document)
            if time.monotonic() - started < 0.05:
                live.wait(1.0)  # a wait document that takes no time must not hammer the app
    finally:
        live.stop_expecting_bridge()


def _stay_bridged(live: CallControl) -> str:
    """A queued caller was dequeued by <Dial><Queue>: stay connected until that bridge ends."""
    call = live.call
    live.wait_real(10**9, until=lambda: call.bridge_sid is None)
    return "bridged"
