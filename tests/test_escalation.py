"""Urgent pages escalate until someone acknowledges them: SMS with "reply 1", a call-down that asks for 1,
then the supervisors. Through the emulator over HTTP where a person would act (a clinician's phone), and
with Twilio's REST API recorded where only the steps' order is at stake."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from callcenter import escalation, ledger
from callcenter.extensions import db
from callcenter.models import CallEvent, OnCallPage
from tests.support import MAPLE_NUMBER, ON_CALL_NUMBER, PATIENT, ask, console_for, eventually, incoming
from tests.twiml_helpers import parse

POLICY = escalation.Policy()  # call down after 5 minutes, supervisors 5 minutes later


def _page(app) -> OnCallPage | None:
    """The latest page, detached from its session (None before there is one)."""
    with app.app_context():
        page = db.session.scalar(select(OnCallPage).order_by(OnCallPage.id.desc()))
        if page is not None:
            db.session.expunge(page)
        return page


def _delivery(app) -> str | None:
    page = _page(app)
    return page.delivery_status if page else None


def _kinds(app, call_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call_id)
                                       .order_by(CallEvent.id)))


def _escalate(app, minutes_after_page: float, base_url: str = "http://localhost") -> escalation.Escalated:
    with app.app_context():
        page = db.session.scalar(select(OnCallPage).order_by(OnCallPage.id.desc()))
        now = page.sent_at + timedelta(minutes=minutes_after_page)
        return escalation.escalate_due(db.session, app.gateway, POLICY, now,
                                       lambda page_id: f"{base_url}/ivr/page-call/{page_id}")


def _urgent_caller_whose_clinician_does_not_pick_up(phone_system):
    app = phone_system.app
    app.config["PUBLIC_BASE_URL"] = phone_system.app_url
    caller = phone_system.phone.dial(PATIENT, MAPLE_NUMBER)
    caller.wait_for("press 1")
    caller.press("1")  # urgent, after hours: paged, then put through
    sms = phone_system.phone.wait_for_sms(ON_CALL_NUMBER, "urgent patient call")
    phone_system.phone.incoming(ON_CALL_NUMBER).decline()
    caller.wait_for("The on-call clinician has been paged.")
    caller.hang_up()
    return sms


def test_an_unacknowledged_page_calls_the_clinician_down_and_pressing_1_stops_it(phone_system, maple_closed, on_call):
    app = phone_system.app
    sms = _urgent_caller_whose_clinician_does_not_pick_up(phone_system)
    assert "Reply 1 to acknowledge." in sms["body"]
    page = _page(app)

    assert _escalate(app, 4, phone_system.app_url) == escalation.Escalated([], [])  # not yet: 5 minutes
    assert _escalate(app, 6, phone_system.app_url).called_down == [page.id]

    clinician = phone_system.phone.incoming(ON_CALL_NUMBER)
    clinician.answer()
    heard = clinician.wait_for("Press 1 to acknowledge.")
    assert f"urgent patient call, reference {page.call_id}" in heard
    assert "call the patient back at 4 1 5, 5 5 5, 0 1 2 3" in heard
    clinician.press("1")
    acknowledged = clinician.wait_for("Acknowledged. Thank you.")
    assert "Again, call the patient back at 4 1 5, 5 5 5, 0 1 2 3." in acknowledged

    assert _page(app).acknowledged_by == "pressed 1 on the call-down"
    assert _escalate(app, 30, phone_system.app_url) == escalation.Escalated([], [])  # the chain has stopped
    kinds = _kinds(app, page.call_id)
    assert kinds.index("paged_on_call") < kinds.index("page_called_down") < kinds.index("page_acknowledged")
    assert "page_raised_to_supervisors" not in kinds


def test_a_clinician_who_replies_1_to_the_page_is_not_called_down(phone_system, maple_closed, on_call):
    app = phone_system.app
    _urgent_caller_whose_clinician_does_not_pick_up(phone_system)
    page = _page(app)

    phone_system.phone.text(ON_CALL_NUMBER, MAPLE_NUMBER, "1")

    reply = phone_system.phone.wait_for_sms(ON_CALL_NUMBER, "Acknowledged")
    assert reply["body"] == f"Acknowledged ref #{page.call_id}. Thank you."
    assert _page(app).acknowledged_by == "replied 1 to the page"
    assert _escalate(app, 30, phone_system.app_url) == escalation.Escalated([], [])
    assert phone_system.phone.inbox(ON_CALL_NUMBER)[-1]["body"].startswith("Acknowledged")  # no call, no text


def test_a_clinician_who_takes_the_patients_call_acknowledges_the_page(phone_system, maple_closed, on_call):
    app = phone_system.app
    app.config["PUBLIC_BASE_URL"] = phone_system.app_url
    caller = phone_system.phone.dial(PATIENT, MAPLE_NUMBER)
    caller.wait_for("press 1")
    caller.press("1")
    clinician = phone_system.phone.incoming(ON_CALL_NUMBER)
    clinician.answer()
    clinician.wait_for("Press 1 to speak to them.")
    clinician.press("1")
    caller.wait_until(lambda s: s["connected_to"] == ON_CALL_NUMBER)
    assert _page(app).acknowledged_by == "took the patient's call"  # at once, not when they hang up
    clinician.hang_up()
    caller.wait_for_status("ended")
    assert _escalate(app, 30, phone_system.app_url) == escalation.Escalated([], [])


def test_a_voicemail_box_answering_for_the_clinician_neither_takes_the_patient_nor_acknowledges(
        phone_system, maple_closed, on_call):
    app = phone_system.app
    app.config["PUBLIC_BASE_URL"] = phone_system.app_url
    caller = phone_system.phone.dial(PATIENT, MAPLE_NUMBER)
    caller.wait_for("press 1")
    caller.press("1")
    phone_system.phone.incoming(ON_CALL_NUMBER).answer()  # their voicemail greeting; nobody presses 1

    caller.wait_for("The on-call clinician has been paged.", timeout=20)  # the urgent voicemail, with us
    assert not any(line["text"].startswith("[connected") for line in caller.status()["transcript"])
    caller.hang_up()
    assert _page(app).acknowledged_at is None
    assert _escalate(app, 6, phone_system.app_url).called_down == [_page(app).id]


def test_nobody_acknowledging_reaches_the_supervisors_who_must_handle_it(app, twilio, twilio_http, world, maple_closed,
                                                                        on_call):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu", incoming(Digits="1"))
    page = _page(app)
    sam, alice = console_for(app, "sam@example.test"), console_for(app, "alice@example.test")

    assert _escalate(app, 6).called_down == [page.id]
    [call_down] = [r for r in twilio_http.requests if r["url"].endswith("/Calls.json")]
    assert (call_down["data"]["To"], call_down["data"]["Url"]) == (ON_CALL_NUMBER,
                                                                   f"http://localhost/ivr/page-call/{page.id}")
    spoken = parse(twilio.post(f"/ivr/page-call/{page.id}", incoming(CallSid="CA" + "9" * 32)))
    assert spoken.find("Gather") is not None
    assert _escalate(app, 9) == escalation.Escalated([], [])  # the call-down has 5 minutes
    assert _escalate(app, 11).raised == [page.id]

    pages = ask(sam, "snapshot")["pages"]
    assert pages[0]["escalation"] == "needs_supervisor" and pages[0]["acknowledged_by"] is None
    refused = ask(alice, "handle_page", {"page_id": page.id})
    assert refused == {"ok": False, "error": "Only a supervisor can take over an unacknowledged page."}
    assert ask(sam, "handle_page", {"page_id": page.id}) == {"ok": True, "page_id": page.id}
    assert ask(sam, "snapshot")["pages"][0]["acknowledged_by"] == "supervisor Sam"
    assert ask(sam, "handle_page", {"page_id": page.id})["error"] == "It was acknowledged already (supervisor Sam)."
    kinds = _kinds(app, page.call_id)
    assert kinds.index("page_called_down") < kinds.index("page_raised_to_supervisors") < kinds.index(
        "page_acknowledged")


def test_with_nobody_on_call_the_supervisors_hear_at_once(app, twilio, twilio_http, world, maple_closed):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu", incoming(Digits="1"))
    page = _page(app)
    assert page.status == "no_one_on_call"

    assert _escalate(app, 0).raised == [page.id]
    assert twilio_http.requests == []  # nobody to text or call
    with app.app_context():
        raised = db.session.scalar(select(CallEvent).where(CallEvent.kind == "page_raised_to_supervisors"))
        assert raised.data == {"page": page.id, "why": "nobody on call"}


def test_a_page_twilio_refused_is_called_down_at_once(app, twilio, twilio_http, world, maple_closed, on_call):
    twilio.post("/ivr/voice", incoming())
    twilio_http.fail_with = 400
    dial = parse(twilio.post("/ivr/menu", incoming(Digits="1"))).find("Dial")
    twilio_http.fail_with = None
    assert _page(app).status == "failed"
    assert _escalate(app, 0) == escalation.Escalated([], [])  # the patient's own call is ringing them now

    twilio.post(dial.get("action"), incoming(DialCallStatus="no-answer"))  # it did not reach them either
    assert _escalate(app, 0.5).called_down == [_page(app).id]  # not five minutes later


def test_two_workers_escalating_at_once_call_the_clinician_down_once(app, twilio, twilio_http, world, maple_closed,
                                                                     on_call):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu", incoming(Digits="1"))
    start = threading.Barrier(2)
    results = []

    def worker():
        start.wait()
        results.append(_escalate(app, 6))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(len(r.called_down) for r in results) == [0, 1]
    assert len([r for r in twilio_http.requests if r["url"].endswith("/Calls.json")]) == 1


def test_a_reply_that_is_not_1_or_from_another_number_acknowledges_nothing(app, twilio, world, maple_closed, on_call):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu", incoming(Digits="1"))
    for sender, body in ((ON_CALL_NUMBER, "who is this?"), (PATIENT, "1")):
        answer = twilio.post("/sms/inbound", {"From": sender, "To": MAPLE_NUMBER, "Body": body,
                                              "MessageSid": "SM" + "1" * 32, "AccountSid": incoming()["AccountSid"]})
        assert "Acknowledged" not in answer.get_data(as_text=True)
    assert _page(app).acknowledged_at is None


def test_the_workers_reconciler_round_escalates_and_tells_the_supervisors(app, twilio, twilio_http, world,
                                                                          maple_closed):
    from ops.jobs import reconcile

    sam = console_for(app, "sam@example.test")
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu", incoming(Digits="1"))  # nobody on call
    with app.app_context():
        report = reconcile()
        again = reconcile()

    assert report["pages_raised"] == [_page(app).id] and again["pages_raised"] == []  # raised once
    pushed = sam.get_received("/console")  # what reached Sam's console, in order
    notices = [event["args"][0]["text"] for event in pushed if event["name"] == "supervisor_notice"]
    assert len([text for text in notices if text.startswith("An urgent page was not acknowledged.")]) == 1
    # And, closed today with nobody on call, the gap in the schedule, once (callcenter/schedule.py).
    assert len([text for text in notices if "has nobody on call" in text]) == 1
    pages = [event["args"][0] for event in pushed if event["name"] == "pages"]
    assert pages[-1]["pages"][0]["escalation"] == "needs_supervisor"


def test_a_page_that_never_arrives_calls_the_clinician_down_at_once(phone_system, maple_closed, on_call):
    from emulator import configure
    from ops.jobs import escalate_pages

    app = phone_system.app
    configure(phone_system.emulator, undeliverable=[ON_CALL_NUMBER])  # the clinician's phone is off the network
    app.config["PUBLIC_BASE_URL"] = phone_system.app_url
    caller = phone_system.phone.dial(PATIENT, MAPLE_NUMBER)
    caller.wait_for("press 1")
    caller.press("1")

    eventually(lambda: _delivery(app) == "undelivered", timeout=10)  # Twilio's receipt
    page = _page(app)
    assert app.task_queue.fetch_job(f"escalate_pages-undelivered-{page.id}") is not None  # at once, by the worker
    phone_system.phone.incoming(ON_CALL_NUMBER).decline()  # the patient's own call does not reach them either
    caller.wait_for("We could not reach the on-call clinician.")  # not "has been paged": it never arrived
    with app.app_context():
        assert escalate_pages().called_down == [page.id]  # not five minutes later
        undelivered = db.session.scalar(select(CallEvent).where(CallEvent.kind == "page_undelivered"))
        assert undelivered.data == {"page": page.id, "status": "undelivered", "error_code": "30003"}
    assert phone_system.phone.inbox(ON_CALL_NUMBER) == []
    caller.hang_up()


def test_a_delivered_page_is_recorded_and_waits_its_minutes(phone_system, maple_closed, on_call):
    app = phone_system.app
    app.config["PUBLIC_BASE_URL"] = phone_system.app_url
    caller = phone_system.phone.dial(PATIENT, MAPLE_NUMBER)
    caller.wait_for("press 1")
    caller.press("1")

    eventually(lambda: _delivery(app) == "delivered", timeout=10)
    assert "page_delivered" in _kinds(app, _page(app).call_id)
    assert _escalate(app, 1, phone_system.app_url) == escalation.Escalated([], [])
    caller.hang_up()


def test_a_page_left_sending_by_a_process_that_died_is_called_down(app, twilio, twilio_http, world, maple_closed,
                                                                   on_call):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu", incoming(Digits="1"))
    with app.app_context():  # the web process died between keeping the page and Twilio's answer
        page = db.session.scalar(select(OnCallPage))
        page.status, page.message_sid = "sending", None
        db.session.commit()
        page_id = page.id

    assert _escalate(app, 0.5) == escalation.Escalated([], [])  # it may still be on its way
    assert _escalate(app, 2).called_down == [page_id]


def test_a_page_waiting_for_a_supervisor_stays_on_the_console_however_many_come_after(app, world):
    from agents_ui import read_model

    with app.app_context():
        now = ledger.now()
        waiting = OnCallPage(practice_id=world["maple"], status="no_one_on_call", sent_at=now - timedelta(hours=1),
                             escalation_step=escalation.SUPERVISORS)
        db.session.add(waiting)
        db.session.add_all(OnCallPage(practice_id=world["maple"], status="sent", sent_at=now - timedelta(minutes=i),
                                      acknowledged_at=now, acknowledged_by="replied 1 to the page")
                           for i in range(12))
        db.session.commit()
        pages = read_model.recent_pages(db.session)

    assert pages[0]["id"] == waiting.id and pages[0]["escalation"] == "needs_supervisor"
    assert len(pages) == 11  # it, and the ten latest


def test_without_a_public_url_the_call_down_cannot_happen_so_the_supervisors_hear(app, twilio, twilio_http, world,
                                                                                 maple_closed, on_call):
    from ops.jobs import escalate_pages

    twilio.post("/ivr/voice", incoming())
    dial = parse(twilio.post("/ivr/menu", incoming(Digits="1"))).find("Dial")
    twilio.post(dial.get("action"), incoming(DialCallStatus="no-answer"))
    with app.app_context():
        page = db.session.scalar(select(OnCallPage))
        page.sent_at = ledger.now() - timedelta(minutes=6)
        db.session.commit()
        done = escalate_pages()  # PUBLIC_BASE_URL is unset here
        raised = db.session.scalar(select(CallEvent).where(CallEvent.kind == "page_raised_to_supervisors"))

    assert done.raised == [page.id] and done.called_down == []
    assert raised.data["why"] == "the call-down could not be placed"
    assert not [r for r in twilio_http.requests if r["url"].endswith("/Calls.json")]
