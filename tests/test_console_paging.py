"""Urgent messages taken at wrap-up reach the practice's on-call clinician by SMS, from a job,
and the console shows the recent pages (without patient data)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agents_ui.broadcast import NAMESPACE
from callcenter.extensions import db
from callcenter.models import CallEvent, OnCallPage
from ops.jobs import page_on_call
from tests.support import (
    ACCOUNT_SID,
    MAPLE_NUMBER,
    ON_CALL_NUMBER,
    PATIENT,
    SID,
    answer_call,
    ask,
    received,
    waiting_call,
)

MESSAGE = "Chest tightness since this morning, worse on stairs."
SMS_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def wrapped_up_urgent(app, alice, call_sid: str = SID, callback_number: str = PATIENT,
                      urgency: str = "urgent") -> tuple[int, int]:
    """Alice takes a caller and wraps up with a message of this urgency; returns (call id, message id)."""
    call_id = waiting_call(app, call_sid=call_sid)
    assert answer_call(app, alice, call_id)["ok"] is True
    answer = ask(alice, "wrap_up", {"call_id": call_id, "disposition": "message_taken", "message": MESSAGE,
                                    "caller_name": "Pat Doe", "callback_number": callback_number,
                                    "callback_confirmed": True, "urgency": urgency})
    assert answer["ok"] is True, answer
    return call_id, answer["message_id"]


def sms_sent(twilio_http) -> list[dict]:
    return [r for r in twilio_http.requests if r["url"] == SMS_URL]


def test_it_queues_the_page_instead_of_making_the_agent_wait(app, alice, on_call, twilio_http):
    _, message_id = wrapped_up_urgent(app, alice)

    job = app.task_queue.fetch_job(f"page_on_call-{message_id}")
    assert job is not None
    assert (job.func, job.args) == (page_on_call, (message_id,))
    assert sms_sent(twilio_http) == []  # nothing went to Twilio during the wrap-up


def test_it_pages_the_on_call_clinician_once(app, alice, on_call, twilio_http):
    call_id, message_id = wrapped_up_urgent(app, alice)

    with app.app_context():
        assert page_on_call(message_id) == "sent"
        assert page_on_call(message_id) == "sent"  # a retried job pages nobody twice

    [sms] = sms_sent(twilio_http)
    assert sms["method"] == "POST"
    assert sms["data"] == {
        "To": ON_CALL_NUMBER, "From": MAPLE_NUMBER,
        "Body": f"Maple Street Family Medicine: urgent patient call (message taken by the answering service). "
                f"Call back {PATIENT}. Ref #{call_id}. Reply 1 to acknowledge.",
    }
    assert MESSAGE not in sms["data"]["Body"] and "Pat Doe" not in sms["data"]["Body"]
    with app.app_context():
        [page] = db.session.scalars(select(OnCallPage)).all()
        assert (page.call_id, page.to_number, page.status) == (call_id, ON_CALL_NUMBER, "sent")
        assert page.message_sid.startswith("SM")
        kinds = db.session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call_id)).all()
        assert kinds.count("message_dispatched") == 1


def test_the_worker_sends_the_page(app, alice, on_call, twilio_http):
    from ops.worker import run_worker

    wrapped_up_urgent(app, alice)

    run_worker(app, burst=True)

    assert [s["data"]["To"] for s in sms_sent(twilio_http)] == [ON_CALL_NUMBER]


def test_it_gives_the_clinician_the_number_the_patient_asked_for(app, alice, on_call, twilio_http):
    call_id, message_id = wrapped_up_urgent(app, alice, callback_number="(617) 555-0188")

    with app.app_context():
        page_on_call(message_id)

    [sms] = sms_sent(twilio_http)
    assert sms["data"]["Body"] == (
        "Maple Street Family Medicine: urgent patient call (message taken by the answering service, "
        f"best number +16175550188). Call back {PATIENT}. Ref #{call_id}. Reply 1 to acknowledge.")


def test_it_does_not_page_for_a_routine_message(app, alice, on_call, twilio_http):
    _, message_id = wrapped_up_urgent(app, alice, urgency="routine")

    assert app.task_queue.fetch_job(f"page_on_call-{message_id}") is None
    assert app.task_queue.count == 0


def test_it_records_that_no_one_was_on_call(app, alice, twilio_http):
    call_id, message_id = wrapped_up_urgent(app, alice)

    with app.app_context():
        assert page_on_call(message_id) == "no_one_on_call"
        page_on_call(message_id)
        [page] = db.session.scalars(select(OnCallPage)).all()
        assert (page.call_id, page.status, page.to_number) == (call_id, "no_one_on_call", None)
    assert sms_sent(twilio_http) == []
    [shown] = ask(alice, "snapshot")["pages"]
    assert (shown["practice"], shown["status"]) == ("Maple Street Family Medicine", "no_one_on_call")


def test_it_retries_a_page_twilio_refused(app, alice, on_call, twilio_http):
    _, message_id = wrapped_up_urgent(app, alice)
    twilio_http.fail_with = 400

    with app.app_context(), pytest.raises(RuntimeError, match="was not sent"):
        page_on_call(message_id)  # RQ retries a failed job
    twilio_http.fail_with = None
    with app.app_context():
        assert page_on_call(message_id) == "sent"
        assert [p.status for p in db.session.scalars(select(OnCallPage).order_by(OnCallPage.id))] == [
            "failed", "sent"]


def test_it_shows_the_recent_pages_on_every_console_without_patient_data(app, world, alice, bob, on_call):
    call_ids = []
    for n in range(11):
        call_id, message_id = wrapped_up_urgent(app, alice, call_sid=f"CA{n:032d}")
        call_ids.append(call_id)
        with app.app_context():
            page_on_call(message_id)
    bob.get_received(NAMESPACE)
    _, last = wrapped_up_urgent(app, alice, call_sid="CA" + "z" * 32)

    with app.app_context():
        page_on_call(last)

    pages = received(bob, "pages")[-1]["pages"]
    assert pages == ask(bob, "snapshot")["pages"]
    assert len(pages) == 10  # the last ten, newest first
    with app.app_context():
        newest = db.session.scalars(select(OnCallPage.id).order_by(OnCallPage.id.desc()).limit(10)).all()
    assert [p["id"] for p in pages] == newest
    assert set(pages[0]) == {"id", "practice", "status", "sent_at", "acknowledged_by", "acknowledged_at",
                             "escalation"}  # no patient data
    assert (pages[0]["practice"], pages[0]["status"]) == ("Maple Street Family Medicine", "sent")
    assert PATIENT not in str(pages) and ON_CALL_NUMBER not in str(pages)


def test_it_pages_at_once_when_the_job_cannot_be_queued(app, alice, on_call, twilio_http, monkeypatch):
    def redis_away(*args, **kwargs):
        raise ConnectionError("Redis is away")

    monkeypatch.setattr(app.task_queue, "enqueue", redis_away)

    call_id, _ = wrapped_up_urgent(app, alice)  # the wrap-up still succeeds ...

    [sms] = sms_sent(twilio_http)  # ... and the clinician is paged all the same
    assert sms["data"]["To"] == ON_CALL_NUMBER
    assert sms["data"]["Body"].endswith(f"Ref #{call_id}. Reply 1 to acknowledge.")


def test_an_urgent_message_whose_page_job_was_lost_is_paged_by_the_reconciler(app, alice, on_call, twilio_http):
    from datetime import UTC, datetime

    from callcenter.models import Message
    from callcenter.reconciler import PAGE_GRACE
    from ops.jobs import reconcile

    _, message_id = wrapped_up_urgent(app, alice)
    app.task_queue.empty()  # Redis lost the job (restarted without its data), before any worker ran it
    with app.app_context():
        assert reconcile()["pages_not_sent"] == []  # not yet: the job may simply not have run
        db.session.get(Message, message_id).created_at = datetime.now(UTC) - PAGE_GRACE * 2
        db.session.commit()
        assert reconcile()["pages_not_sent"] == [message_id]
    job = app.task_queue.fetch_job(f"page_on_call-{message_id}-again")
    assert (job.func, job.args) == (page_on_call, (message_id,))
    with app.app_context():
        assert page_on_call(message_id) == "sent"
        assert reconcile()["pages_not_sent"] == []  # paged: nothing more to do
    assert [r["data"]["To"] for r in sms_sent(twilio_http)] == [ON_CALL_NUMBER]


def test_an_urgent_voicemail_nobody_paged_about_goes_to_the_on_call_clinician(app, world, on_call, twilio,
                                                                            twilio_http):
    from callcenter.models import Call, Message
    from tests.support import incoming

    call_id = waiting_call(app)
    with app.app_context():
        db.session.get(Call, call_id).priority = 1  # urgent, and no page has gone out for it
        db.session.commit()
    recording = {"RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'3' * 32}",
                 "RecordingSid": "RE" + "3" * 32, "RecordingDuration": "20"}
    assert twilio.post("/ivr/voicemail", incoming(**recording)).status_code == 200
    with app.app_context():
        message_id = db.session.scalar(select(Message.id).where(Message.kind == "voicemail"))
    assert app.task_queue.fetch_job(f"page_on_call-{message_id}") is not None
    with app.app_context():
        assert page_on_call(message_id) == "sent"
    [sms] = sms_sent(twilio_http)
    assert sms["data"]["To"] == ON_CALL_NUMBER
    assert "urgent voicemail left" in sms["data"]["Body"] and PATIENT in sms["data"]["Body"]


def test_an_urgent_voicemail_of_a_call_already_paged_pages_nobody_twice(app, world, twilio, twilio_http, on_call,
                                                                       maple_closed):
    from tests.support import incoming

    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu", incoming(Digits="1"))  # urgent, after hours: paged, then put through
    twilio.post(f"/ivr/on-call-done/{_call_id(app)}", incoming(DialCallStatus="no-answer"))
    recording = {"RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'4' * 32}",
                 "RecordingSid": "RE" + "4" * 32, "RecordingDuration": "20"}
    thanks = twilio.post("/ivr/voicemail", incoming(**recording)).get_data(as_text=True)
    assert "paged" in thanks  # true: the page went out before the dial
    assert len(sms_sent(twilio_http)) == 1
    assert [job for job in app.task_queue.job_ids if job.startswith("page_on_call-")] == []


def _call_id(app) -> int:
    from callcenter.models import Call

    with app.app_context():
        return db.session.scalar(select(Call.id))


def test_the_call_down_reads_the_message_only_once_the_clinician_pressed_1(app, alice, on_call, twilio,
                                                                           twilio_http):
    from tests.support import incoming
    from tests.twiml_helpers import parse, spoken

    _, message_id = wrapped_up_urgent(app, alice)
    with app.app_context():
        assert page_on_call(message_id) == "sent"
        page_id = db.session.scalar(select(OnCallPage.id))
    asked = spoken(parse(twilio.post(f"/ivr/page-call/{page_id}", incoming(CallSid="CA" + "8" * 32))))
    assert MESSAGE not in asked  # a voicemail box may have answered: not yet
    heard = spoken(parse(twilio.post(f"/ivr/page-call-key/{page_id}", incoming(CallSid="CA" + "8" * 32,
                                                                                 Digits="1"))))
    assert heard.startswith("Acknowledged. Thank you. The message: " + MESSAGE)
    assert "Again, call the patient back at 4 1 5, 5 5 5, 0 1 2 3." in heard
