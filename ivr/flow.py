"""Shared steps of the patient's path that several webhooks end in: queue, voicemail or on-call."""

from __future__ import annotations

import logging

from flask import current_app

from callcenter import calls, hours, ledger, oncall
from callcenter.extensions import db, socketio
from callcenter.live import announce_queue
from callcenter.models import Call, Practice
from callcenter.queue import QUEUE_FULL
from callcenter.routing import Route, decide, estimate_wait_minutes

from . import twiml
from .prompts import prompts

log = logging.getLogger(__name__)


def announce() -> None:
    """Tell consoles the queue changed. A hint only: failure must not touch the caller's answer."""
    try:
        announce_queue(db.session, current_app.call_queue, socketio.emit)
    except Exception as exc:
        log.warning("queue announcement failed: %s", type(exc).__name__)


def queue_name(call: Call) -> str:
    return f"practice-{call.practice_id}"  # no patient data in queue names


def wait_minutes(position: int) -> int | None:
    queue = current_app.call_queue
    return estimate_wait_minutes(position, queue.average_handle_time(), calls.agents_online(db.session, queue))


def send_onward(call: Call, practice: Practice, prefix: str | None = None) -> str:
    """After the menu: the queue when someone can answer, otherwise a message or the on-call clinician."""
    queue = current_app.call_queue
    now = ledger.now()
    open_now = hours.practice_is_open(practice, now)
    call.after_hours = not open_now
    route, why = decide(urgent=call.priority > 0, open_now=open_now,
                        agents_online=calls.agents_online(db.session, queue), queue_full=len(queue) >= queue.capacity)
    if route is Route.QUEUE:
        position = calls.queue_call(db.session, queue, call)
        if position != QUEUE_FULL:
            ledger.record(db.session, call, "routed", {"route": "queue", "why": why}, dedupe_key="routed:queue")
            db.session.commit()
            announce()
            return twiml.enqueue(call.language, queue_name(call), position, call.priority > 0,
                                 wait_minutes(position), prefix=prefix)
        route, why = decide(urgent=call.priority > 0, open_now=True, agents_online=1, queue_full=True)
    ledger.record(db.session, call, "routed", {"route": route.value, "why": why})
    p = prompts(call.language)
    reason_text = p["after_hours"] if why == "after_hours" else p["overflow"]
    text = " ".join(t for t in (prefix, reason_text) if t)
    if route is Route.ON_CALL:
        return to_on_call(call, practice, why, prefix=text)
    db.session.commit()
    return twiml.voicemail(call.language, urgent=False, prefix=text)


def to_on_call(call: Call, practice: Practice, why: str, prefix: str | None = None) -> str:
    """Page the on-call clinician and put the caller through; with nobody on call, an urgent voicemail."""
    now = ledger.now()
    db.session.commit()  # the SMS goes out with no database write lock held
    page = oncall.page(db.session, current_app.gateway, practice, call, why, now)
    ledger.record(db.session, call, "paged_on_call", {"status": page.status, "page": page.id})
    if page.status == "sent":  # the clinician has the patient's number: the call is handed over
        ledger.set_outcome(db.session, call, "oncall")
    shift = oncall.current_shift(db.session, practice.id, now)
    if shift is None:
        db.session.commit()
        return twiml.voicemail(call.language, urgent=True, prefix=prefix)
    ledger.advance(call, "on_call")
    ledger.record(db.session, call, "put_through_to_on_call", {"shift": shift.id})
    db.session.commit()
    return twiml.connect_to_on_call(call.language, call.id, shift.number, prefix=prefix)
