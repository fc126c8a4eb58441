"""The domain's `Onward` spoken as TwiML: what the caller hears on the way to where they go next."""

from __future__ import annotations

import math

from flask import Response, current_app

from callcenter.extensions import db
from callcenter.models import Call
from callcenter.patient_path import Next, Onward

from . import twiml
from .prompts import prompts
from .webhooks import twiml_response

# Why the caller is not going to the queue, in the words they hear (the prompt's key).
SAID_WHY = {"after_hours": "after_hours", "no_agents": "overflow", "queue_full": "overflow", "max_wait": "max_wait"}


# A Twilio queue holds 1,000 callers unless its size is raised (at most 5,000). A practice that may
# have more waiting is spread over several Twilio queues: a call's queue follows from its id, so a
# retried webhook names the same one, and each gets about 800 at most, below Twilio's 1,000. Which
# Twilio queue a caller holds in does not decide who is answered first: the Redis queue does.
TWILIO_QUEUE_SIZE = 1000
TWILIO_QUEUE_SHARE = 800


def queue_name(call: Call) -> str:
    """The Twilio queue this caller holds in (no patient data in queue names)."""
    capacity = min(call.practice.queue_capacity or current_app.call_queue.capacity, current_app.call_queue.capacity)
    if capacity <= TWILIO_QUEUE_SIZE:
        return f"practice-{call.practice_id}"
    return f"practice-{call.practice_id}-{call.id % math.ceil(capacity / TWILIO_QUEUE_SHARE)}"


def twiml_for(onward: Onward, call: Call, prefix: str | None = None) -> str:
    """The TwiML that takes the caller where `onward` says, saying `prefix` and why first."""
    language = call.language
    if onward.next is Next.QUEUE:
        return twiml.enqueue(language, queue_name(call), onward.position, call.priority > 0, onward.wait_minutes,
                             prefix=prefix)
    if onward.next is Next.AGENT:
        return twiml.redirect(f"/ivr/connect/{call.id}")
    if onward.next is Next.GOODBYE:
        return twiml.goodbye(language)
    if onward.next is Next.NOTHING:
        return twiml.empty()
    why = prompts(language)[SAID_WHY[onward.why]] if onward.why in SAID_WHY else None
    text = " ".join(t for t in (prefix, why) if t) or None
    if onward.next is Next.ON_CALL:
        return twiml.connect_to_on_call(language, call.id, onward.on_call_number, prefix=text,
                                        emergency_line=onward.emergency_line)
    return twiml.voicemail(language, urgent=onward.next is Next.URGENT_VOICEMAIL, paged=onward.paged, prefix=text)


def answer(onward: Onward, call: Call, prefix: str | None = None) -> Response:
    """Speak `onward`, commit the webhook's work, then tell the consoles if the queue changed."""
    xml = twiml_for(onward, call, prefix)
    db.session.commit()
    if onward.queue_changed:
        current_app.console.queue_changed()
    return twiml_response(xml)
