"""An agent who takes calls on their own phone: the accepted call rings it, a whisper names the practice
and asks for 1, and only a 1 connects the patient, so a voicemail box can never take a patient."""

from __future__ import annotations

import pytest
from playwright import sync_api as playwright_sync
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import CallEvent, User
from tests.support import (
    MAPLE_NUMBER,
    PATIENT,
    answer_call,
    ask,
    caller_in_line,
    console_for,
    eventually,
    log_in,
    log_in_browser,
)

ALICE_PHONE = "+16175550199"


def _alice_takes_calls_on_her_phone(phone_system, world):
    app = phone_system.app
    with app.app_context():
        db.session.get(User, world["alice"]).audio_phone = ALICE_PHONE
        db.session.commit()
    caller, call_id = caller_in_line(phone_system)
    alice = console_for(app, "alice@example.test")
    assert answer_call(app, alice, call_id)["ok"] is True
    return caller, alice, call_id


def _kinds(app, call_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call_id)
                                       .order_by(CallEvent.id)))


def test_the_patient_is_connected_only_once_the_agent_presses_1_on_their_phone(phone_system, world, agent_on_duty):
    caller, alice, call_id = _alice_takes_calls_on_her_phone(phone_system, world)

    phone = phone_system.phone.incoming(ALICE_PHONE)
    phone.answer()
    assert phone.wait_for("Maple Street Family Medicine call. Press 1 to take the call.")
    assert ask(alice, "snapshot")["call"]["state"] == "connecting"  # her phone answered; she has not taken it
    assert not caller.status()["connected_to"]

    phone.press("1")

    caller.wait_until(lambda s: s["connected_to"] == ALICE_PHONE)
    eventually(lambda: ask(alice, "snapshot")["call"]["state"] == "connected", timeout=10)
    assert ask(alice, "snapshot")["call"]["can_hold"] is True  # hold and consult work on her phone's leg
    assert ask(alice, "hold", {"call_id": call_id, "hold": True}) == {"ok": True}
    caller.wait_for("[hold music]")
    assert ask(alice, "hold", {"call_id": call_id, "hold": False}) == {"ok": True}
    caller.wait_for_status("in conference (2 participants)")

    phone.hang_up()
    caller.wait_for_status("ended")
    eventually(lambda: ask(alice, "snapshot")["call"]["state"] == "completed", timeout=10)
    kinds = _kinds(phone_system.app, call_id)
    assert kinds.index("accepted_on_phone") < kinds.index("held")


def test_a_voicemail_box_that_answers_the_agents_phone_never_takes_the_patient(phone_system, world, agent_on_duty):
    caller, alice, call_id = _alice_takes_calls_on_her_phone(phone_system, world)

    voicemail_box = phone_system.phone.incoming(ALICE_PHONE)
    voicemail_box.answer()  # it plays a greeting and presses nothing

    caller.wait_for("that person could not take your call. You keep your place in line.", timeout=20)
    caller.wait_until(lambda s: s["display"].startswith("in queue"))
    assert phone_system.app.call_queue.position(call_id) == 1
    voicemail_box.wait_for("Not taken. The caller stays in line.")
    assert not any(line["text"].startswith("[connected") for line in caller.status()["transcript"])
    kinds = _kinds(phone_system.app, call_id)
    assert "connected" not in kinds and "accepted_on_phone" not in kinds
    with phone_system.app.app_context():
        requeued = db.session.scalar(select(CallEvent).where(CallEvent.call_id == call_id,
                                                             CallEvent.kind == "requeued"))
        assert requeued.data["why"] == "agent_not-accepted"


def test_the_console_says_calls_ring_the_agents_phone(app, world, client):
    with app.app_context():
        db.session.get(User, world["alice"]).audio_phone = ALICE_PHONE
        db.session.commit()
    log_in(client, "alice@example.test")
    answer = client.get("/console/voice-token").get_json()
    assert answer == {"kind": "phone", "phone_hint": "•••0199"}  # no token: nothing to register


@pytest.mark.browser
@pytest.mark.slow
def test_the_console_tells_the_agent_to_answer_their_phone_and_press_1(phone_system, world, browser):
    expect = playwright_sync.expect
    app = phone_system.app
    app.config["PUBLIC_BASE_URL"] = phone_system.app_url
    with app.app_context():
        db.session.get(User, world["alice"]).audio_phone = ALICE_PHONE
        db.session.commit()
    console = browser.new_context().new_page()
    log_in_browser(console, phone_system.app_url, "alice@example.test")
    expect(console.locator("#audio")).to_have_text("Calls ring your phone •••0199", timeout=10_000)
    console.locator("#available-toggle").click()
    expect(console.locator("#available-toggle")).to_have_text("Available")

    caller = phone_system.phone.dial(PATIENT, MAPLE_NUMBER)
    caller.wait_for("press 1")
    caller.press("2")
    console.locator("#offer .accept").click(timeout=15_000)
    line = console.locator("#current-call .line-state")
    expect(line).to_have_text("Your phone •••0199 is ringing. Answer and press 1 to take the call.",
                              timeout=10_000)
    phone = phone_system.phone.incoming(ALICE_PHONE)
    phone.answer()
    phone.wait_for("Press 1 to take the call.")
    expect(line).to_have_text("Your phone •••0199 is ringing. Answer and press 1 to take the call.")
    phone.press("1")
    expect(line).to_have_text("Connected", timeout=10_000)
    expect(console.locator("#hold")).to_be_visible()
    phone.hang_up()
    expect(line).to_have_text("The caller has hung up. Please finish the wrap-up.", timeout=10_000)
