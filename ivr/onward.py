"""The domain's `Onward` spoken as TwiML: what the caller hears on the way to where they go next."""

from __future__ import annotations

from flask import Response, current_app

from callcenter.extensions import db
from callcenter.models import Call
from callcenter.patient_path import Next, Onward

from . import twiml
from .prompts import prompts
from .webhooks import twiml_response

# Why the caller is not going to the queue, in the words they hear (the prompt's key).
SAID_WHY = {"after_hours": "after_hours", "no_agents": "overflow", "queue_full": "overflow", "max_wait": "max_wait"}


def queue_name(call: Call) -> str:
    return f"practice-{call.practice_id}"  # no patient data in queue names


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
        return twiml.connect_to_on_call(language, call.id, onward.on_call_number, prefix=text)
    return twiml.voicemail(language, urgent=onward.next is Next.URGENT_VOICEMAIL, prefix=text)


def answer(onward: Onward, call: Call, prefix: str | None = None) -> Response:
    """Speak `onward`, commit the webhook's work, then tell the consoles if the queue changed."""
    xml = twiml_for(onward, call, prefix)
    db.session.commit()
    if onward.queue_changed:
        current_app.console.queue_changed()
    return twiml_response(xml)
