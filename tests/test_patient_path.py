"""The patient's path in the domain: where a caller goes after the menu, after waiting, and after the
on-call clinician's line, as the `Onward` the IVR speaks."""

from datetime import UTC, datetime

from sqlalchemy import select

from callcenter import calls, ledger, patient_path
from callcenter.extensions import db
from callcenter.models import Call, CallEvent, OnCallPage
from callcenter.patient_path import Next, Onward
from tests.support import MAPLE_NUMBER, ON_CALL_NUMBER, PATIENT, SID


def _after_menu(app, digit: str) -> tuple[Onward, Call]:
    """A caller presses `digit` at Maple Street's menu and goes on."""
    call, practice = calls.enter_ivr(db.session, SID, MAPLE_NUMBER, PATIENT)
    calls.choose(db.session, call, digit)
    onward = patient_path.after_menu(db.session, app.call_queue, app.presence, app.gateway, call, practice,
                                     datetime.now(UTC))
    db.session.commit()
    return onward, call


def _sms(twilio_http) -> list[dict]:
    return [r for r in twilio_http.requests if r["url"].endswith("/Messages.json")]


def test_after_hours_an_urgent_caller_is_put_through_to_the_clinician_on_call(app, maple_closed, on_call,
                                                                             twilio_http):
    with app.app_context():
        onward, call = _after_menu(app, "1")

        assert onward == Onward(Next.ON_CALL, "after_hours", on_call_number=ON_CALL_NUMBER)
        [page] = db.session.scalars(select(OnCallPage)).all()
        assert (page.call_id, page.status, page.to_number) == (call.id, "sent", ON_CALL_NUMBER)
        assert (call.state, call.after_hours, call.outcome) == ("on_call", True, "oncall")
    assert [s["data"]["To"] for s in _sms(twilio_http)] == [ON_CALL_NUMBER]


def test_after_hours_with_nobody_on_call_an_urgent_caller_leaves_an_urgent_message(app, maple_closed, twilio_http):
    with app.app_context():
        onward, call = _after_menu(app, "1")

        assert onward == Onward(Next.URGENT_VOICEMAIL, "after_hours")
        [page] = db.session.scalars(select(OnCallPage)).all()  # people see that nobody could be paged
        assert (page.call_id, page.status, page.to_number) == (call.id, "no_one_on_call", None)
        assert call.state == "ivr"
    assert twilio_http.requests == []


def test_in_hours_a_caller_waits_in_the_queue_with_an_honest_estimate(app, agent_on_duty):
    with app.app_context():
        onward, call = _after_menu(app, "2")

        assert onward == Onward(Next.QUEUE, "in_hours", position=1, wait_minutes=2, queue_changed=True)
        assert call.state == "queued"
    assert app.call_queue.position(call.id) == 1


def test_with_nobody_logged_in_a_routine_caller_leaves_a_message_instead_of_holding(app, world, on_call):
    with app.app_context():
        onward, call = _after_menu(app, "3")

        assert onward == Onward(Next.VOICEMAIL, "no_agents")
        assert call.state == "ivr"
    assert len(app.call_queue) == 0


def test_a_routine_caller_who_waited_the_longest_allowed_leaves_a_message(app, agent_on_duty, on_call):
    with app.app_context():
        _, call = _after_menu(app, "2")

        onward = patient_path.after_queue(db.session, app.call_queue, app.presence, app.gateway, call, "leave",
                                          datetime.now(UTC))

        assert onward == Onward(Next.VOICEMAIL, "max_wait", queue_changed=True)
        assert db.session.scalars(select(OnCallPage)).all() == []  # routine callers page nobody
    assert len(app.call_queue) == 0


def test_a_caller_who_hung_up_in_the_queue_goes_nowhere(app, agent_on_duty):
    with app.app_context():
        _, call = _after_menu(app, "1")
        calls.line_ended(db.session, app.call_queue, call, "completed", 3, 40)

        onward = patient_path.after_queue(db.session, app.call_queue, app.presence, app.gateway, call, "hangup",
                                          datetime.now(UTC))

        assert onward == Onward(Next.NOTHING)
        assert call.state == "abandoned"


def test_the_on_call_clinicians_line_ends_the_call_or_leaves_an_urgent_message(app, maple_closed, on_call):
    with app.app_context():
        _, call = _after_menu(app, "1")

        assert patient_path.after_on_call(db.session, call, "no-answer") == Onward(
            Next.URGENT_VOICEMAIL, "on_call_unanswered", paged=True)  # the page went out before the dial
        # Answered, but nobody pressed 1 (the clinician's voicemail box): the patient is not taken.
        assert patient_path.after_on_call(db.session, call, "completed").next is Next.URGENT_VOICEMAIL
        patient_path.on_call_accepted(db.session, call, ledger.now())
        db.session.flush()
        db.session.expire(call, ["events"])
        assert patient_path.after_on_call(db.session, call, "completed") == Onward(Next.GOODBYE)
        assert patient_path.after_on_call(db.session, call, "completed") == Onward(Next.GOODBYE)  # Twilio retried
        db.session.commit()

        assert (call.state, call.outcome) == ("completed", "oncall")
        finished = db.session.scalars(select(CallEvent.data).where(CallEvent.call_id == call.id,
                                                                   CallEvent.kind == "on_call_finished")).all()
        assert finished == [{"status": "no-answer"}, {"status": "completed"}]


def test_a_caller_twilio_had_no_room_for_leaves_a_message_and_is_not_sent_back_to_the_queue(app, agent_on_duty):
    with app.app_context():
        _, call = _after_menu(app, "2")

        onward = patient_path.after_queue(db.session, app.call_queue, app.presence, app.gateway, call, "queue-full",
                                          datetime.now(UTC))

        assert onward == Onward(Next.VOICEMAIL, "queue_full", queue_changed=True)
        assert call.state == "queued"  # left the queue; the voicemail it records ends the call
    assert len(app.call_queue) == 0


def test_a_holding_caller_hears_their_place_and_the_wait_from_one_row_and_two_round_trips(app, agent_on_duty):
    with app.app_context():
        _, call = _after_menu(app, "2")

        hold = patient_path.on_hold(db.session, app.call_queue, app.presence, SID, datetime.now(UTC))

        assert hold == patient_path.Hold("en", position=1, wait_minutes=2, offer_keep_place=False)
        assert app.call_queue.last_heartbeats([call.id])[call.id] is not None
        assert patient_path.on_hold(db.session, app.call_queue, app.presence, "CA" + "0" * 32,
                                    datetime.now(UTC)) is None
