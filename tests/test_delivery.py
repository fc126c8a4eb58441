"""An urgent message taken at wrap-up reaches the practice's on-call clinician, once, without the
message itself in the SMS; what could not be sent is recorded for people to see."""

from sqlalchemy import select

from callcenter import calls, ledger
from callcenter.delivery import deliver_urgent, page_reason
from callcenter.extensions import db
from callcenter.models import Call, CallEvent, Message, OnCallPage, PracticeNumber
from tests.support import ASKED_NUMBER, MAPLE_NUMBER, ON_CALL_NUMBER, PATIENT, SID

BODY = "Chest tightness since this morning, worse on stairs."


def _message(world, urgency: str = "urgent", callback_number: str = PATIENT) -> Message:
    """A message Alice took from the patient's call to Maple Street (in the current app context)."""
    call, _ = calls.enter_ivr(db.session, SID, MAPLE_NUMBER, PATIENT)
    message = Message(practice_id=world["maple"], call_id=call.id, urgency=urgency, body=BODY,
                      caller_name="Pat Doe", callback_number=callback_number, taken_by_id=world["alice"])
    db.session.add(message)
    db.session.commit()
    return message


def _sms(twilio_http) -> list[dict]:
    return [r for r in twilio_http.requests if r["url"].endswith("/Messages.json")]


def test_a_routine_message_pages_nobody(app, world, on_call, twilio_http):
    with app.app_context():
        message = _message(world, urgency="routine")

        assert deliver_urgent(db.session, app.gateway, message, ledger.now()) is None
        assert db.session.scalars(select(OnCallPage)).all() == []
    assert twilio_http.requests == []


def test_the_clinician_on_call_is_paged_once_without_the_message_itself(app, world, on_call, twilio_http):
    with app.app_context():
        message = _message(world)

        page = deliver_urgent(db.session, app.gateway, message, ledger.now())
        again = deliver_urgent(db.session, app.gateway, message, ledger.now())  # a retried job
        db.session.commit()

        assert again.id == page.id
        assert (page.status, page.to_number, page.call_id) == ("sent", ON_CALL_NUMBER, message.call_id)
        dispatched = db.session.scalars(select(CallEvent.data).where(CallEvent.kind == "message_dispatched")).all()
        assert dispatched == [{"message": message.id, "to": "on_call", "page": page.id, "status": "sent"}]
    [sms] = _sms(twilio_http)
    assert (sms["data"]["To"], sms["data"]["From"]) == (ON_CALL_NUMBER, MAPLE_NUMBER)
    assert PATIENT in sms["data"]["Body"]  # the number to call back ...
    assert BODY not in sms["data"]["Body"] and "Pat Doe" not in sms["data"]["Body"]  # ... and no health details


def test_the_page_gives_the_number_the_patient_asked_to_be_called_at():
    call = Call(from_number=PATIENT)

    assert page_reason(Message(callback_number=ASKED_NUMBER), call) == (
        f"message taken by the answering service, best number {ASKED_NUMBER}")
    assert page_reason(Message(callback_number=PATIENT), call) == "message taken by the answering service"
    assert page_reason(Message(callback_number=None), call) == "message taken by the answering service"


def test_with_nobody_on_call_the_page_is_recorded_once_and_nothing_is_sent(app, world, twilio_http):
    with app.app_context():
        message = _message(world)

        page = deliver_urgent(db.session, app.gateway, message, ledger.now())
        again = deliver_urgent(db.session, app.gateway, message, ledger.now())
        db.session.commit()

        assert again.id == page.id
        assert [(p.status, p.to_number) for p in db.session.scalars(select(OnCallPage))] == [
            ("no_one_on_call", None)]
    assert twilio_http.requests == []


def test_a_practice_with_no_number_to_send_from_gets_a_failed_page_people_can_see(app, world, on_call, twilio_http):
    with app.app_context():
        message = _message(world)
        for number in db.session.scalars(select(PracticeNumber).where(PracticeNumber.practice_id == world["maple"])):
            db.session.delete(number)
        db.session.commit()

        page = deliver_urgent(db.session, app.gateway, message, ledger.now())
        db.session.commit()

        assert (page.status, page.error) == ("failed", "the practice has no phone number to send from")
        dispatched = db.session.scalars(select(CallEvent.data).where(CallEvent.kind == "message_dispatched")).all()
        assert [d["status"] for d in dispatched] == ["failed"]
    assert twilio_http.requests == []
