"""Connecting callers to agents and the on-call clinician, voicemails and their transcriptions, and
recorded conversations."""

from __future__ import annotations

from flask import Response, current_app, request
from sqlalchemy import select

from callcenter import acd, calls, consult, escalation, ledger, oncall, patient_path, recordings, voicemail
from callcenter.extensions import db
from callcenter.gateway import GatewayError
from callcenter.ledger import TERMINAL_TELEPHONY
from callcenter.models import Call, Message, OnCallPage, Practice, User

from . import bp, twiml
from .onward import answer, queue_name
from .prompts import prompts
from .urls import public_url
from .webhooks import form_int, keep_for_replay, twilio_webhook, twiml_response


def _safe() -> Response:
    return twiml_response(twiml.safe_fallback())


def _wait_minutes(position: int) -> int | None:
    return patient_path.wait_minutes(db.session, current_app.call_queue, current_app.presence, position)


def _leg(call_id: int) -> tuple[Call | None, bool]:
    """The call this URL names, if this request's CallSid is one of its legs; and whether it is our callback."""
    call = db.session.get(Call, call_id)
    sid = request.form.get("CallSid", "")
    if call is None or not sid:
        return None, False
    if call.call_sid == sid:
        return call, False
    task = calls.keep_place_task(db.session, call)
    if task is not None and task.outbound_call_sid == sid:
        return call, True
    return None, False


@bp.post("/connect/<int:call_id>")
@twilio_webhook(_safe)
def connect(call_id: int):
    """Fetched by Twilio after an agent took the call: bridge the caller (or the called-back patient)."""
    call, is_callback = _leg(call_id)
    if call is None:
        return _safe()
    if call.state not in ("connecting", "connected") or call.agent_id is None:
        if is_callback:
            return twiml_response(twiml.goodbye(call.language))
        position = calls.queue_call(db.session, current_app.call_queue, call)
        return twiml_response(twiml.enqueue(call.language, queue_name(call), position, call.priority > 0,
                                            _wait_minutes(position)))
    calls.bridging(db.session, call)
    db.session.commit()
    greeting = prompts(call.language)["callback_greeting"].format(practice=call.practice.name) if is_callback else None
    agent = db.session.get(User, call.agent_id)
    recorded = call.practice.records_calls
    if agent is not None and agent.audio_phone:
        return twiml_response(twiml.connect_to_agent_phone(call.language, call.id, agent.audio_phone, greeting,
                                                           recorded=recorded))
    return twiml_response(twiml.connect_to_agent(call.language, call.id, twiml.agent_identity(call.agent_id),
                                                 greeting, recorded=recorded))


def _dialled_leg(call_id: int) -> Call | None:
    """The call whose agent's (or on-call clinician's) phone this request comes from: its
    ParentCallSid is the patient's."""
    call = db.session.get(Call, call_id)
    if call is None or request.form.get("ParentCallSid") not in (call.call_sid, calls.live_leg(db.session, call)):
        return None
    return call


def _whisper_words(call: Call) -> str:
    """Who is calling, for the agent's ear: the practice, and what they should know before answering."""
    words = [call.practice.name if call.practice else "An answering service"]
    if call.priority > 0:
        words.append("urgent")
    if call.language != "en":
        words.append("in Spanish" if call.language == "es" else f"language {call.language}")
    return ", ".join(words) + " call"


@bp.post("/agent-whisper/<int:call_id>")
@twilio_webhook(lambda: twiml_response(twiml.agent_not_taken()))
def agent_whisper(call_id: int):
    """The agent's own phone answered (it may be a voicemail box): ask them to press 1."""
    call = _dialled_leg(call_id)
    if call is None or call.state != "connecting":
        return twiml_response(twiml.agent_not_taken())
    return twiml_response(twiml.agent_whisper(call.id, _whisper_words(call)))


@bp.post("/agent-whisper-key/<int:call_id>")
@twilio_webhook(lambda: twiml_response(twiml.agent_not_taken()))
def agent_whisper_key(call_id: int):
    """The agent pressed a key on their phone: 1 takes the call, and only then is the caller connected."""
    call = _dialled_leg(call_id)
    if call is None or call.state != "connecting" or request.form.get("Digits") != "1":
        return twiml_response(twiml.agent_not_taken())
    calls.connected(db.session, call)
    call.agent_leg_sid = request.form.get("CallSid") or None  # hold and consult move this leg between rooms
    ledger.record(db.session, call, "accepted_on_phone", {"agent": call.agent_id}, actor_id=call.agent_id)
    db.session.commit()
    current_app.console.call_changed_for(call.agent_id)
    return twiml_response(twiml.empty())  # the whisper runs out: connected


@bp.post("/agent-leg/<int:call_id>")
@twilio_webhook(lambda: Response(status=204))
def agent_leg(call_id: int):
    """The agent's leg of the bridge was answered (its <Client> status callback): the caller is connected."""
    call = db.session.get(Call, call_id)
    form = request.form
    if call is None or form.get("ParentCallSid") not in (call.call_sid, calls.live_leg(db.session, call)):
        return Response(status=204)
    status, sid = form.get("CallStatus"), form.get("CallSid", "")
    # The agent's own phone answering is not the agent taking the call: pressing 1 is (agent-whisper-key).
    if status == "in-progress" and call.state == "connecting" and request.args.get("via") != "phone":
        calls.connected(db.session, call)
        call.agent_leg_sid = sid or None  # hold and consult move this leg between rooms
        db.session.commit()
        current_app.console.call_changed_for(call.agent_id)
    elif status in TERMINAL_TELEPHONY and consult.agent_left(db.session, call, sid):
        # The agent's line dropped while the patient was on hold: nobody is coming back for them.
        agent_id = call.agent_id
        ledger.requeue(db.session, call, "agent_left_caller_on_hold")
        clinician = consult.forget(call)
        db.session.commit()
        consult.end_quietly(current_app.gateway, clinician)  # a consult still ringing has nobody to reach
        try:
            back = public_url(f"/ivr/back-in-line/{call.id}")
            current_app.gateway.redirect_call(calls.live_leg(db.session, call), back)
        except GatewayError:
            pass  # the patient hung up too: their status callback ends the call as abandoned
        current_app.console.call_changed_for(agent_id)
        current_app.console.queue_changed()
    return Response(status=204)


@bp.post("/back-in-line/<int:call_id>")
@twilio_webhook(_safe)
def back_in_line(call_id: int):
    """The patient lost their agent while on hold: back in line where they were."""
    call, _ = _leg(call_id)
    if call is None:
        return _safe()
    position = calls.queue_call(db.session, current_app.call_queue, call)
    db.session.commit()
    current_app.console.queue_changed()
    return twiml_response(twiml.enqueue(call.language, queue_name(call), position or 1, call.priority > 0,
                                        _wait_minutes(position or 1), prefix=prompts(call.language)["agent_lost"]))


@bp.post("/agent-room/<int:call_id>")
@twilio_webhook(lambda: twiml_response(twiml.empty()))
def agent_room(call_id: int):
    """The agent's leg, redirected by hold (into the agent's room) or resume (into the patient's)."""
    call = db.session.get(Call, call_id)
    if call is None or request.form.get("CallSid") != call.agent_leg_sid:
        return twiml_response(twiml.empty())
    room = consult.patient_room(call.id) if request.args.get("room") == "patient" else consult.agent_room(call.id)
    return twiml_response(twiml.agent_in_room(call.id, room))


@bp.post("/agent-room-done/<int:call_id>")
@twilio_webhook(lambda: twiml_response(twiml.empty()))
def agent_room_done(call_id: int):
    """The agent's room ended (the patient left, or the agent hung up): the agent's line hangs up."""
    return twiml_response(twiml.empty())


@bp.post("/patient-room-done/<int:call_id>")
@twilio_webhook(_safe)
def patient_room_done(call_id: int):
    """The patient's room ended: the agent or the clinician they were talking to hung up."""
    call, _ = _leg(call_id)
    if call is None:
        return _safe()
    agent_id = call.agent_id
    if call.state == "connected" and call.hold not in consult.HELD:
        ledger.advance(call, "completed")
        acd.call_ended(db.session, current_app.presence, agent_id, call.id, ledger.now())
        db.session.commit()
        current_app.console.call_changed_for(agent_id)
    return twiml_response(twiml.goodbye(call.language))


@bp.post("/consult-leg/<int:call_id>")
@twilio_webhook(lambda: twiml_response(twiml.empty()))
def consult_leg(call_id: int):
    """The clinician answered the agent's consult: a word on what it is, then the agent's room."""
    call = db.session.get(Call, call_id)
    if call is None or not consult.is_consult(call, request.args.get("ref"), request.form.get("CallSid", "")):
        return twiml_response(twiml.empty())  # a consult the agent has already left: nobody is there
    db.session.commit()  # its sid, if this is the first Twilio has told of it
    name = call.practice.name if call.practice else "The"
    return twiml_response(twiml.consult_whisper(name, consult.agent_room(call.id)))


@bp.post("/consult-status/<int:call_id>")
@twilio_webhook(lambda: Response(status=204))
def consult_status(call_id: int):
    """The clinician's consult call rang, was answered or ended: the agent's console hears at once."""
    call = db.session.get(Call, call_id)
    form = request.form
    if call is None:
        return Response(status=204)
    changed = consult.consult_leg_changed(db.session, call, request.args.get("ref"), form.get("CallSid", ""),
                                          form.get("CallStatus", ""))
    db.session.commit()  # the call's sid, the first time it is seen, even when the agent need not hear
    if changed:
        current_app.console.call_changed_for(call.agent_id)
    return Response(status=204)


@bp.post("/clinician-joins/<int:call_id>")
@twilio_webhook(lambda: twiml_response(twiml.empty()))
def clinician_joins(call_id: int):
    """The agent put the clinician through: into the patient's room."""
    call = db.session.get(Call, call_id)
    if call is None or request.form.get("CallSid") != call.consult_call_sid:
        return twiml_response(twiml.empty())
    return twiml_response(twiml.clinician_joins(consult.patient_room(call.id)))


@bp.post("/dial-done/<int:call_id>")
@twilio_webhook(_safe)
def dial_done(call_id: int):
    """The bridge to the agent ended; if the agent never answered, the caller keeps their place."""
    call, _ = _leg(call_id)
    if call is None:
        return _safe()
    form = request.form
    agent_id = call.agent_id
    if call.hold in consult.HELD and call.state == "connected":
        # The agent's leg left the bridge for their own room: the patient holds in theirs.
        return twiml_response(twiml.patient_on_hold(call.language, call.id, consult.patient_room(call.id)))
    dial_status = form.get("DialCallStatus", "")
    if request.args.get("via") == "phone" and call.state == "connecting":
        # The agent's phone never took the call (nobody pressed 1: a voicemail box, or a hang-up), though
        # Twilio may report the dial completed because the phone answered.
        dial_status = "not-accepted"
    hold_again = calls.dial_finished(db.session, current_app.call_queue, call, dial_status,
                                     form_int("DialCallDuration"))
    if not hold_again and call.state == "completed":
        acd.call_ended(db.session, current_app.presence, agent_id, call.id, ledger.now())
    db.session.commit()
    current_app.console.call_changed_for(agent_id)
    if not hold_again:
        return twiml_response(twiml.goodbye(call.language))
    current_app.console.queue_changed()
    position = current_app.call_queue.position(call.id) or 1
    return twiml_response(twiml.enqueue(call.language, queue_name(call), position, call.priority > 0,
                                        _wait_minutes(position), prefix=prompts(call.language)["agent_missed"]))


@bp.post("/transfer/<int:call_id>")
@twilio_webhook(_safe)
def transfer(call_id: int):
    """The agent transferred the caller to the on-call clinician: paged and dialled as the IVR's own on-call
    path does (the page carries the patient's number; unanswered, or nobody on call now: urgent voicemail)."""
    call, _ = _leg(call_id)
    if call is None or call.practice is None:
        return _safe()
    return answer(patient_path.to_on_call(db.session, current_app.gateway, call, call.practice,
                                          "transferred by an agent", ledger.now()), call)


@bp.post("/on-call-whisper/<int:call_id>")
@twilio_webhook(lambda: twiml_response(twiml.on_call_not_taken()))
def on_call_whisper(call_id: int):
    """The on-call clinician's phone answered (it may be their voicemail box): ask them to press 1."""
    call = _dialled_leg(call_id)
    if call is None or call.state != "on_call":
        return twiml_response(twiml.on_call_not_taken())
    return twiml_response(twiml.on_call_whisper(call.id, call.practice.name if call.practice else "The"))


@bp.post("/on-call-whisper-key/<int:call_id>")
@twilio_webhook(lambda: twiml_response(twiml.on_call_not_taken()))
def on_call_whisper_key(call_id: int):
    """The clinician pressed 1: they take the urgent patient, and that acknowledges the page."""
    call = _dialled_leg(call_id)
    if call is None or call.state != "on_call" or request.form.get("Digits") != "1":
        return twiml_response(twiml.on_call_not_taken())
    patient_path.on_call_accepted(db.session, call, ledger.now())
    db.session.commit()
    current_app.console.pages_changed()
    return twiml_response(twiml.empty())  # the whisper runs out: Twilio puts the patient through


@bp.post("/on-call-done/<int:call_id>")
@twilio_webhook(_safe)
def on_call_done(call_id: int):
    """The call to the on-call clinician ended; unanswered, the caller leaves an urgent message."""
    call, _ = _leg(call_id)
    if call is None:
        return _safe()
    return answer(patient_path.after_on_call(db.session, call, request.form.get("DialCallStatus", "")), call)


def _page_callback_number(page: OnCallPage) -> str | None:
    """The number the clinician should call: the one an urgent message gave, else the caller's own."""
    if page.call_id is None:
        return None
    message = db.session.scalar(select(Message).where(Message.call_id == page.call_id, Message.urgency == "urgent",
                                                      Message.callback_number.is_not(None)).limit(1))
    call = db.session.get(Call, page.call_id)
    return message.callback_number if message else (call.from_number if call else None)


@bp.post("/page-call/<int:page_id>")
@twilio_webhook(lambda: twiml_response(twiml.goodbye()))
def page_call(page_id: int):
    """The call-down of an unacknowledged page answered (callcenter/escalation.py): read it, ask for 1."""
    page = db.session.get(OnCallPage, page_id)
    if page is None or page.acknowledged_at is not None:
        return twiml_response(twiml.page_acknowledged() if page else twiml.goodbye())
    practice = db.session.get(Practice, page.practice_id)
    return twiml_response(twiml.page_call_down(page.id, practice.name if practice else "", page.call_id,
                                               _page_callback_number(page)))


@bp.post("/page-call-key/<int:page_id>")
@twilio_webhook(lambda: twiml_response(twiml.goodbye()))
def page_call_key(page_id: int):
    """A key pressed on the call-down: 1 acknowledges the page (and stops its escalation)."""
    page = db.session.get(OnCallPage, page_id)
    if page is None:
        return twiml_response(twiml.goodbye())
    if request.form.get("Digits") != "1":
        return twiml_response(twiml.redirect(f"/ivr/page-call/{page.id}"))
    escalation.acknowledge(db.session, page, "pressed 1 on the call-down", ledger.now())
    message = db.session.scalar(select(Message).where(Message.call_id == page.call_id, Message.urgency == "urgent")
                                .order_by(Message.id).limit(1)) if page.call_id is not None else None
    said = (message.transcription or message.body) if message is not None else None
    number = _page_callback_number(page)
    db.session.commit()
    current_app.console.pages_changed()
    return twiml_response(twiml.page_acknowledged(said, number))


@bp.post("/goodbye")
@twilio_webhook(lambda: twiml_response(twiml.goodbye()))
def goodbye():
    """The agent ended the call."""
    call, _ = _leg(request.args.get("call", type=int) or 0)
    return twiml_response(twiml.goodbye(call.language if call else "en"))


def _keep_recording_and_thank() -> Response:
    """The recording could not be saved as a message now: it is kept and replayed (and Twilio holds the
    recording itself, which the reconciler looks for), so the caller is told the truth: it was recorded."""
    keep_for_replay("recording")
    return twiml_response(twiml.voicemail_saved("en", urgent=False))


@bp.post("/voicemail")
@twilio_webhook(_keep_recording_and_thank)
def voicemail_recorded():
    """A recording from any voicemail path, the safe fallback included, becomes a message needing review."""
    call, message = voicemail.recorded(db.session, request.form)
    urgent = call.priority > 0
    paged = urgent and call.id is not None and oncall.was_paged(db.session, call.id)
    db.session.commit()
    if message is not None and message.urgency == "urgent" and not paged:
        # The clinician on call gets it like any urgent message (their page says a voicemail was left, with
        # the number to call back); a call paged already is covered by that page and its escalation.
        current_app.followups.page_on_call(message.id)
    return twiml_response(twiml.voicemail_saved(call.language, urgent=urgent, paged=paged))


@bp.post("/transcription")
@twilio_webhook(lambda: Response(status=204))
def transcription():
    """Twilio's transcription of a voicemail (arrives after the call)."""
    form = request.form
    call = calls.enter_ivr(db.session, form.get("CallSid", ""), form.get("To"), form.get("From"))[0]
    url = form.get("RecordingUrl")
    if url and call.practice_id is not None:
        # It can arrive before the Record action: the voicemail is kept by whichever comes first.
        voicemail.save(db.session, call, url, form.get("RecordingSid"), None, call.priority > 0)
    voicemail.transcription_arrived(db.session, url, form.get("TranscriptionText"),
                                    form.get("TranscriptionStatus", ""))
    db.session.commit()
    return Response(status=204)


def _keep_call_recording() -> Response:
    keep_for_replay("call_recording")
    return Response(status=204)


@bp.post("/call-recording")
@twilio_webhook(_keep_call_recording)
def call_recording():
    """Twilio finished recording a conversation (practices that record): written down, and the worker
    takes the service's copy and deletes Twilio's. Kept for the worker when it cannot be written now."""
    recording = recordings.arrived(db.session, request.form)
    db.session.commit()
    if recording is not None and recording.status == "at_twilio":
        current_app.followups.take_recording_copy(recording.id)
    return Response(status=204)
