"""Calling patients back, in the domain: the number we may call, keeping a place in line, the SMS
that says when, and a call-back the patient did not answer."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter import callbacks, calls, ledger
from callcenter.callbacks import PendingNumbers
from callcenter.extensions import db
from callcenter.models import Call, CallbackTask, CallEvent, Practice, User
from tests.support import ASKED_NUMBER, MAPLE_NUMBER, PATIENT, connect_url, kept_place, task_of, waiting_call

MAPLE = Practice(name="Maple Street Family Medicine", timezone="America/Los_Angeles")
DUE = datetime(2026, 11, 27, 17, 5, tzinfo=UTC)  # 9:05 AM in Los Angeles


@pytest.mark.parametrize(("raw", "number"), [
    (PATIENT, PATIENT),
    ("(415) 555-0123", PATIENT),
    ("4155550123", PATIENT),
    (" +1 617 555 0188 ", ASKED_NUMBER),
    ("anonymous", None),
    ("client:agent-1", None),
    ("", None),
    (None, None),
])
def test_only_a_number_we_could_dial_is_kept_for_a_call_back(raw, number):
    assert callbacks.callable_number(raw) == number


def test_the_sms_says_by_when_in_the_practices_time_and_the_callers_language_and_names_no_one():
    """A lock screen shows the text to anyone near the phone: no practice name unless the practice asks."""
    assert callbacks.callback_sms_text(MAPLE, DUE, "en") == (
        "We're sorry we missed your call. We will call you back by 9:05 am.")
    assert callbacks.callback_sms_text(MAPLE, DUE, "es") == (
        "Lamentamos no haber atendido su llamada. Le llamaremos antes de las 9:05 am.")
    assert callbacks.callback_sms_text(MAPLE, DUE, "fr") == callbacks.callback_sms_text(MAPLE, DUE, "en")
    assert callbacks.callback_sms_text(MAPLE, DUE, "en", 12) == (
        "We're sorry we missed your call. We will call you back by 9:05 am. "
        "Reference 12: reply to this text to see how it stands.")


def test_a_practice_that_opts_in_is_named_in_the_sms():
    named = Practice(name="Maple Street Family Medicine", timezone=MAPLE.timezone, sms_names_practice=True)
    assert callbacks.callback_sms_text(named, DUE, "en") == (
        "We're sorry we missed your call to Maple Street Family Medicine. We will call you back by 9:05 am.")
    assert callbacks.callback_sms_text(named, DUE, "es") == (
        "Lamentamos no haber atendido su llamada a Maple Street Family Medicine. Le llamaremos antes de las 9:05 am.")


def test_a_patient_who_replies_is_told_where_their_callback_stands(app, world, twilio):
    from datetime import UTC, datetime, timedelta

    from callcenter.extensions import db
    from callcenter.models import CallbackTask
    from tests.support import MAPLE_NUMBER, PATIENT, incoming, waiting_call
    from tests.twiml_helpers import parse

    def reply(body: str, sender: str = PATIENT) -> str:
        answer = parse(twilio.post("/sms/inbound", incoming(From=sender, To=MAPLE_NUMBER, Body=body)))
        return answer.find("Message").text

    call_id = waiting_call(app)
    now = datetime.now(UTC)
    with app.app_context():
        task = CallbackTask(practice_id=world["maple"], call_id=call_id, number=PATIENT, reason="abandoned",
                            due_at=now + timedelta(minutes=10), sms_sid="SM" + "2" * 32)
        db.session.add(task)
        db.session.commit()
        task_id = task.id
    assert reply("ok?").startswith(f"Reference {call_id}: we will call you back by ")
    with app.app_context():
        db.session.get(CallbackTask, task_id).due_at = now - timedelta(minutes=1)
        db.session.commit()
    assert reply(str(call_id)).startswith(f"Reference {call_id}: we have not reached you yet and are late.")
    with app.app_context():
        done = db.session.get(CallbackTask, task_id)
        done.status, done.completed_at = "done", now
        db.session.commit()
    assert reply("?").startswith(f"Reference {call_id}: our staff dealt with it at ")
    assert reply("hello", sender="+14155550100").startswith("This number does not receive text messages")


def test_keeping_a_place_keeps_the_caller_in_line_and_a_second_number_replaces_the_first(app, world):
    call_id = kept_place(app, number=PATIENT)

    with app.app_context():
        call = db.session.get(Call, call_id)
        callbacks.keep_place(db.session, call, ASKED_NUMBER)  # the caller corrected the number
        db.session.commit()
        assert call.state == "callback_waiting"
        [task] = db.session.scalars(select(CallbackTask)).all()
        assert (task.number, task.reason, task.keeps_place, task.status) == (ASKED_NUMBER, "keep_place", True, "open")
        kinds = db.session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call_id)).all()
        assert kinds.count("kept_place") == 1
    assert app.call_queue.position(call_id) == 1


def _abandoned_task(app, caller: str = PATIENT) -> int:
    """A caller who hung up while waiting; returns the id of the callback task we owe them."""
    call_id = waiting_call(app, caller=caller)
    with app.app_context():
        calls.line_ended(db.session, app.call_queue, db.session.get(Call, call_id), "completed", 3, 40)
        db.session.commit()
    return task_of(app, call_id).id


def test_an_abandoned_caller_is_texted_once(app, world, twilio_http):
    task_id = _abandoned_task(app)

    with app.app_context():
        sid = callbacks.send_callback_sms(db.session, app.gateway, task_id)
        assert callbacks.send_callback_sms(db.session, app.gateway, task_id) == sid  # a retried job
        db.session.commit()
        assert sid.startswith("SM")
        assert db.session.scalars(select(CallEvent.kind).where(CallEvent.kind == "callback_sms_sent")).all() == [
            "callback_sms_sent"]

    [sms] = twilio_http.requests
    assert (sms["data"]["To"], sms["data"]["From"]) == (PATIENT, MAPLE_NUMBER)
    assert sms["data"]["Body"].startswith("We're sorry we missed your call. We will call you back by")


def test_a_caller_who_withheld_their_number_is_not_texted(app, world, twilio_http):
    task_id = _abandoned_task(app, caller="anonymous")

    with app.app_context():
        assert callbacks.send_callback_sms(db.session, app.gateway, task_id) is None
        assert db.session.get(CallbackTask, task_id).sms_sid is None
    assert twilio_http.requests == []


def test_a_call_back_the_patient_does_not_answer_goes_back_on_the_list_for_later(app, world, twilio_http):
    call_id = kept_place(app)
    with app.app_context():
        alice = db.session.get(User, world["alice"])
        calls.take(db.session, app.call_queue, app.presence, app.gateway, call_id, alice, connect_url(call_id))
        task = db.session.scalar(select(CallbackTask))
        assert task.status == "in_progress"

        callbacks.outbound_status(db.session, app.call_queue, task, "no-answer")
        db.session.commit()

        assert task.status == "open"
        assert task.due_at > ledger.now() + callbacks.RETRY_DELAY - timedelta(minutes=1)
        assert db.session.get(Call, call_id).state == "abandoned"
        assert db.session.scalars(select(CallEvent.data).where(CallEvent.kind == "callback_unanswered")).all() == [
            {"status": "no-answer"}]
    [placed] = twilio_http.requests
    assert placed["data"]["To"] == ASKED_NUMBER


def test_a_keyed_in_number_waits_for_confirmation_and_is_then_forgotten(app):
    numbers = PendingNumbers(app.redis)
    numbers.keep(5, ASKED_NUMBER)

    assert numbers.get(5) == ASKED_NUMBER and numbers.get(6) is None
    assert 0 < app.redis.ttl(PendingNumbers.key.format(5)) <= PendingNumbers.ttl_seconds  # never kept for long
    numbers.forget(5)
    assert numbers.get(5) is None
