"""Twilio-facing entry points: /ivr/voice, the menu, /ivr/status and /sms/inbound."""

from __future__ import annotations

import functools
import logging

from flask import Response, current_app, request
from redis.exceptions import RedisError

from callcenter import (
    acd,
    call_status,
    callbacks,
    calls,
    consult,
    escalation,
    ledger,
    menu,
    patient_path,
    surveys,
)
from callcenter.extensions import csrf, db
from callcenter.models import Call
from callcenter.practice_directory import PracticeCard, card_of

from . import bp, sms_bp, twiml
from .onward import answer, queue_name
from .prompts import EN, prompts
from .webhooks import current_call, keep_for_replay, twilio_webhook, twiml_response

log = logging.getLogger(__name__)
MAX_MENU_ATTEMPTS = 3

csrf.exempt(bp)
csrf.exempt(sms_bp)


def _safe() -> Response:
    return twiml_response(twiml.safe_fallback())


def _onward(call, practice, prefix: str | None = None) -> Response:
    """After the menu: on to the queue, a message or the on-call clinician."""
    app = current_app
    onward = patient_path.after_menu(db.session, app.call_queue, app.presence, app.gateway, call, practice,
                                     ledger.now())
    return answer(onward, call, prefix)


@functools.lru_cache(maxsize=1024)
def _menu_twiml(practice: PracticeCard, language: str, attempt: int, welcome: bool, prefix: str | None) -> str:
    """The menu as this practice offers it: the same document for every caller, so built once."""
    options = menu.offered(practice.menu_options)
    return twiml.menu(
        language, practice.name, practice.greeting if language == "en" else None, options, attempt,
        welcome=welcome, offer_spanish=language == "en" and "es" in practice.languages, prefix=prefix,
        hints=menu.speech_hints(language, options))


def _menu(practice: PracticeCard, language: str, attempt: int, *, welcome: bool,
          prefix: str | None = None) -> Response:
    return twiml_response(_menu_twiml(practice, language, attempt, welcome, prefix))


@bp.post("/voice")
@twilio_webhook(_safe)
def voice():
    """A call comes in: find the practice by the dialled number, greet, advise, offer the menu."""
    form = request.form
    practice = current_app.practices.by_number(db.session, form.get("To"))
    if practice is None:
        calls.enter_ivr(db.session, form.get("CallSid", ""), form.get("To"), form.get("From"),
                        form.get("Direction", "inbound"))  # recorded as not ours
        db.session.commit()
        return twiml_response(twiml.unknown_number())
    _, language = calls.arrive(db.session, practice, form.get("CallSid", ""), form.get("To"), form.get("From"),
                               form.get("Direction", "inbound"))
    reply = _menu(practice, language, 1, welcome=True)  # built before the commit: the write lock is short
    db.session.commit()
    return reply


@bp.post("/menu")
@twilio_webhook(_safe)
def menu_choice():
    """The caller's choice by key or speech; wrong input or silence repeats the menu, then takes a message."""
    call = current_call()
    if call is None or call.practice is None:
        return twiml_response(twiml.unknown_number())
    if call.state != "ivr":  # Twilio retried a request after the caller was already routed
        if call.state == "queued":
            position = calls.queue_call(db.session, current_app.call_queue, call)
            return twiml_response(twiml.enqueue(call.language, queue_name(call), position, call.priority > 0, None))
        return _safe()
    practice = call.practice
    attempt = min(max(1, request.args.get("attempt", default=1, type=int) or 1), MAX_MENU_ATTEMPTS)
    digits = (request.form.get("Digits") or "").strip()[:1]
    speech = (request.form.get("SpeechResult") or "").strip()[:500]
    options = menu.offered(practice.menu_options)
    p = prompts(call.language)

    if speech:
        found = menu.emergency_words(speech)
        if found:
            calls.mark_emergency(db.session, call, found)
            return _onward(call, practice, prefix=p["emergency_heard"])
    if digits == menu.SPANISH_KEY and call.language == "en" and "es" in (practice.languages or ["en", "es"]):
        calls.set_language(db.session, call, "es")
        db.session.commit()
        return _menu(card_of(practice), call.language, attempt, welcome=True)

    option = menu.by_key(digits, options) if digits else menu.by_speech(speech, call.language, options)
    if option is not None:
        calls.choose_option(db.session, call, option, how="dtmf" if digits else "speech")
        return _onward(call, practice)

    if digits or speech:
        # Keys are recorded; what the caller said is not (it may hold health information).
        ledger.record(db.session, call, "invalid_input", {"digits": digits} if digits else {"speech": True})
    else:
        ledger.record(db.session, call, "no_input", {"attempt": attempt})
    if attempt >= MAX_MENU_ATTEMPTS:
        calls.choose_option(db.session, call, menu.BY_REASON["message"], how="fallback")
        return _onward(call, practice, prefix=p["fallback_to_message"])
    db.session.commit()
    return _menu(card_of(practice), call.language, attempt + 1, welcome=False,
                 prefix=p["invalid"] if (digits or speech) else None)


def _keep_status_and_acknowledge() -> Response:
    """The status webhook failed: keep what Twilio said for the worker to replay, and answer 204."""
    keep_for_replay("status")
    return Response(status=204)


@bp.post("/status")
@twilio_webhook(_keep_status_and_acknowledge)
def status():
    """Call status changes. Idempotent and order-proof; unknown calls get 204 too."""
    app = current_app
    applied = call_status.apply(db.session, app.call_queue, app.followups, request.form.to_dict())
    try:
        if applied.abandoned:
            app.console.queue_changed()
        elif applied.agent_id is not None and applied.call_state == "completed":
            acd.call_ended(db.session, app.presence, applied.agent_id, applied.call_id, ledger.now())
            db.session.commit()
            _end_legs_left_behind(applied.call_id)
        app.console.call_changed_for(applied.agent_id)
    except RedisError as exc:  # the ledger has it; the agent's console and state catch up with Redis
        db.session.rollback()
        log.warning("status applied, but the consoles were not told: Redis unavailable (%s)", type(exc).__name__)
    return Response(status=204)


def _end_legs_left_behind(call_id: int | None) -> None:
    """The patient hung up while on hold or during a consult: nobody is left for the agent's room or the
    clinician being called (who would be told a patient is waiting), so those legs end too."""
    call = db.session.get(Call, call_id) if call_id else None
    if call is None or call.hold == "joined" or (call.hold not in consult.HELD and not call.consult_ref):
        return  # after a warm transfer the clinician's leg is the patient's conversation, and ends with it
    legs = [call.consult_call_sid, call.agent_leg_sid if call.hold in consult.HELD else None]
    clinician_ringing = bool(call.consult_ref)
    consult.forget(call)
    if clinician_ringing:
        ledger.record(db.session, call, "consult_ended", {"why": "the caller hung up"}, dedupe_key="consult_ended:gone")
    db.session.commit()
    for leg in legs:
        consult.end_quietly(current_app.gateway, leg)


@sms_bp.post("/status")
@twilio_webhook(lambda: Response(status=204))
def sms_status():
    """Twilio's delivery receipt for an SMS we sent. A page that will never arrive (undelivered,
    failed) escalates at once: the worker calls the clinician down without waiting its minutes."""
    form = request.form
    page = escalation.delivery_receipt(db.session, request.args.get("page", type=int), form.get("MessageSid"),
                                       form.get("MessageStatus"), form.get("ErrorCode"))
    db.session.commit()
    if page is not None:
        current_app.followups.escalate_pages(page.id)
        current_app.console.pages_changed()
    return Response(status=204)


@sms_bp.post("/inbound")
@twilio_webhook(lambda: twiml_response(twiml.sms_reply(None)))
def sms_inbound():
    """A text to a practice number. A clinician's "1" acknowledges their page (callcenter/escalation.py); a
    patient's 1 to 5 answers their satisfaction survey; a patient owed a callback is told where it stands;
    anyone else is told to call (we do not take medical requests by SMS)."""
    form = request.form
    page = escalation.acknowledge_reply(db.session, form.get("From"), form.get("To"), form.get("Body"), ledger.now())
    if page is not None:
        db.session.commit()
        current_app.console.pages_changed()
        ref = f" ref #{page.call_id}" if page.call_id else ""
        return twiml_response(twiml.sms_reply(f"Acknowledged{ref}. Thank you."))
    thanks = surveys.answer(db.session, form.get("From"), form.get("To"), form.get("Body"), ledger.now())
    if thanks is not None:
        db.session.commit()
        return twiml_response(twiml.sms_reply(thanks))
    status = callbacks.status_reply(db.session, form.get("From"), form.get("To"), form.get("Body"), ledger.now())
    return twiml_response(twiml.sms_reply(status or EN["sms_reply"]))


from . import connect_views, queue_views  # noqa: E402,F401
