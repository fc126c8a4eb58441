"""Calls made through the emulator over real HTTP, as a patient would make them."""

from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import Call, CallbackTask
from tests.support import MAPLE_NUMBER, PATIENT, eventually


def _only_call(system) -> Call:
    with system.app.app_context():
        return db.session.scalar(select(Call))


def test_a_caller_hears_the_greeting_and_waits_in_the_queue(phone_system, agent_on_duty):
    call = phone_system.phone.dial(PATIENT, MAPLE_NUMBER)
    call.wait_for("Thank you for calling Maple Street Family Medicine.")
    call.wait_for("dial 9 1 1")
    call.press("2")
    call.wait_for("You are number 1 in line.")
    state = call.wait_until(lambda s: s.get("in_queue"))
    assert state["in_queue"]
    assert phone_system.app.call_queue.position(_only_call(phone_system).id) == 1
    call.hang_up()


def test_an_unknown_number_is_told_politely(phone_system):
    call = phone_system.phone.dial(PATIENT, "+12125550000")
    call.wait_for("not set up with our answering service")
    call.wait_for_status("completed")
    assert _only_call(phone_system).outcome == "not_ours"


def test_a_caller_who_hangs_up_while_waiting_gets_a_callback_and_an_sms(phone_system, agent_on_duty):
    from ops.worker import run_worker

    call = phone_system.phone.dial(PATIENT, MAPLE_NUMBER)
    call.wait_for("press 1")
    call.press("3")
    call.wait_for("in line")
    call.hang_up()
    app = phone_system.app

    def abandoned():
        return _only_call(phone_system).state == "abandoned"

    eventually(abandoned)
    run_worker(app, burst=True)  # sends the SMS through the gateway -> emulator
    sms = phone_system.phone.wait_for_sms(PATIENT, "We will call you back by")
    assert sms["from"] == MAPLE_NUMBER
    with app.app_context():
        task = db.session.scalar(select(CallbackTask))
        assert (task.reason, task.status, task.number) == ("abandoned", "open", PATIENT)


def test_silence_repeats_the_menu_then_takes_a_message(phone_system, agent_on_duty):
    call = phone_system.phone.dial(PATIENT, MAPLE_NUMBER)
    call.wait_for("take a message for the office", timeout=30)
    call.wait_for("in line")
    assert _only_call(phone_system).reason == "message"
    call.hang_up()
