"""The caller on hold: the waitUrl loop, leaving the queue, and keep-my-place callbacks."""

from __future__ import annotations

import functools

from flask import Response, current_app, request

from callcenter import callbacks, calls, ledger, patient_path
from callcenter.callbacks import PendingNumbers
from callcenter.extensions import db

from . import bp, twiml
from .onward import answer
from .prompts import prompts
from .webhooks import current_call, twilio_webhook, twiml_response

# The hold loop's answers repeat: the same few documents for every caller at a given place in line.
_hold_twiml = functools.lru_cache(maxsize=4096)(twiml.hold)


def _hold_safely() -> Response:
    return twiml_response(_hold_twiml("en", None, None, offer_keep_place=False))


@bp.post("/wait")
@twilio_webhook(_hold_safely)
def wait():
    """The waitUrl loop: honest position and wait about once a minute; a callback offer; the maximum wait."""
    app = current_app
    hold = patient_path.on_hold(db.session, app.call_queue, app.presence, request.form.get("CallSid", ""),
                                ledger.now())
    if hold is None:
        return _wait_on_another_leg()
    if hold.leave:
        return twiml_response(twiml.leave_queue())
    return twiml_response(_hold_twiml(hold.language, hold.position, hold.wait_minutes,
                                      offer_keep_place=hold.offer_keep_place))


def _wait_on_another_leg() -> Response:
    """The hold loop of a caller we called back (our own leg), or one whose queue entry Redis lost."""
    call = current_call()
    if call is None or call.state != "queued":
        return _hold_safely()
    queue = current_app.call_queue
    queue.heartbeat(call.id, ledger.now())
    position = queue.position(call.id)
    if position is None:  # Redis lost the entry (restart): the ledger puts the caller back in place
        position = calls.queue_call(db.session, queue, call)
    waited = calls.waited_seconds(call, ledger.now())
    if waited >= call.practice.max_wait_seconds:
        return twiml_response(twiml.leave_queue())
    minutes = patient_path.wait_minutes(db.session, queue, current_app.presence, position)
    return twiml_response(_hold_twiml(call.language, position, minutes,
                                      offer_keep_place=waited >= patient_path.KEEP_PLACE_AFTER))


@bp.post("/queue-exit")
@twilio_webhook(lambda: twiml_response(twiml.safe_fallback()))
def queue_exit():
    """The caller left Twilio's queue (Enqueue's action); go on according to the ledger."""
    call = current_call()
    if call is None:
        return twiml_response(twiml.safe_fallback())
    app = current_app
    onward = patient_path.after_queue(db.session, app.call_queue, app.presence, app.gateway, call,
                                      request.form.get("QueueResult", ""), ledger.now())
    return answer(onward, call)


def _keep_place_call():
    call = current_call()
    return call if call is not None and call.state == "queued" else None


@bp.post("/keep-place")
@twilio_webhook(lambda: twiml_response(twiml.empty()))
def keep_place():
    """The caller pressed a key at the callback offer."""
    call = _keep_place_call()
    if call is None:
        return twiml_response(twiml.empty())
    if request.form.get("Digits") != "1":
        return twiml_response(twiml.say_then_hold(call.language, prompts(call.language)["keep_place_cancelled"]))
    caller = callbacks.callable_number(call.from_number)
    if caller:
        return twiml_response(twiml.keep_place_number_choice(call.language, caller[-4:]))
    return twiml_response(twiml.keep_place_enter_number(call.language))


@bp.post("/keep-place/choice")
@twilio_webhook(lambda: twiml_response(twiml.empty()))
def keep_place_choice():
    """1: call back at the caller ID; 2: key in another number."""
    call = _keep_place_call()
    if call is None:
        return twiml_response(twiml.empty())
    digits = request.form.get("Digits")
    caller = callbacks.callable_number(call.from_number)
    if digits == "1" and caller:
        return _finish(call, caller)
    if digits == "2":
        return twiml_response(twiml.keep_place_enter_number(call.language))
    return twiml_response(twiml.say_then_hold(call.language, prompts(call.language)["keep_place_cancelled"]))


@bp.post("/keep-place/number")
@twilio_webhook(lambda: twiml_response(twiml.empty()))
def keep_place_number():
    """A keyed-in number: read it back before we rely on it."""
    call = _keep_place_call()
    if call is None:
        return twiml_response(twiml.empty())
    digits = "".join(c for c in request.form.get("Digits", "") if c.isdigit())[:15]
    number = callbacks.callable_number(digits) if len(digits) >= 10 else None
    if number is None:
        return twiml_response(twiml.keep_place_enter_number(call.language,
                                                            prompts(call.language)["keep_place_bad_number"]))
    # Kept in Redis, not in a URL: patient numbers never go into URLs.
    PendingNumbers(current_app.redis).keep(call.id, number)
    return twiml_response(twiml.keep_place_readback(call.language, digits))


@bp.post("/keep-place/confirm")
@twilio_webhook(lambda: twiml_response(twiml.empty()))
def keep_place_confirm():
    call = _keep_place_call()
    if call is None:
        return twiml_response(twiml.empty())
    digits = request.form.get("Digits")
    pending = PendingNumbers(current_app.redis).get(call.id)
    if digits == "1" and pending:
        return _finish(call, pending)
    if digits == "2":
        return twiml_response(twiml.keep_place_enter_number(call.language))
    return twiml_response(twiml.say_then_hold(call.language, prompts(call.language)["keep_place_cancelled"]))


def _finish(call, number: str) -> Response:
    callbacks.keep_place(db.session, call, number)
    xml = twiml.keep_place_done(call.language)
    db.session.commit()
    PendingNumbers(current_app.redis).forget(call.id)
    current_app.console.queue_changed()
    return twiml_response(xml)


