"""Hold and the warm transfer, over the whole call path: the patient's softphone, the emulator, the app's
webhooks, the console's events, the agent's browser audio (the emulator's device) and the clinician's phone."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import Call, CallEvent
from tests.support import ON_CALL_NUMBER, ask, caller_talking_to_alice, eventually


def _talking_to_alice(phone_system, world):
    """A patient on the line with Alice, through her browser audio; (caller, alice's console, device, call id)."""
    caller, alice, device, call_id = caller_talking_to_alice(phone_system, world)
    eventually(lambda: ask(alice, "snapshot")["call"]["can_hold"], timeout=15)
    return caller, alice, device, call_id


def _kinds(app, call_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call_id)
                                       .order_by(CallEvent.id)))


def test_the_patient_hears_hold_music_while_on_hold_and_the_agent_back_after(phone_system, world, agent_on_duty):
    caller, alice, device, call_id = _talking_to_alice(phone_system, world)

    assert ask(alice, "hold", {"call_id": call_id, "hold": True}) == {"ok": True}
    caller.wait_for("Please stay on the line.")
    caller.wait_for("[hold music]")
    view = ask(alice, "snapshot")["call"]
    assert (view["state"], view["on_hold"]) == ("connected", True)  # on hold is not the end of the call

    assert ask(alice, "hold", {"call_id": call_id, "hold": False}) == {"ok": True}
    caller.wait_for_status("in conference (2 participants)")  # the patient and Alice, talking again
    assert ask(alice, "snapshot")["call"]["on_hold"] is False

    assert ask(alice, "hold", {"call_id": call_id, "hold": True}) == {"ok": True}  # a second hold, in the room
    caller.wait_for_status("on hold")
    assert ask(alice, "hold", {"call_id": call_id, "hold": False}) == {"ok": True}
    caller.wait_for_status("in conference (2 participants)")

    assert ask(alice, "hangup", {"call_id": call_id})["ok"] is True
    caller.wait_for_status("ended")
    eventually(lambda: ask(alice, "snapshot")["call"]["state"] == "completed", timeout=15)
    assert ask(alice, "wrap_up", {"call_id": call_id, "disposition": "answered_question"})["ok"] is True
    kinds = _kinds(phone_system.app, call_id)
    assert kinds.count("held") == 2 and kinds.count("resumed") == 2
    assert "requeued" not in kinds


def test_a_warm_transfer_puts_the_clinician_through_after_the_agent_has_spoken_to_them(
        phone_system, world, agent_on_duty, on_call):
    app = phone_system.app
    caller, alice, device, call_id = _talking_to_alice(phone_system, world)

    assert ask(alice, "consult", {"call_id": call_id}) == {"ok": True, "clinician": "Dr. Rivera"}
    caller.wait_for("[hold music]")  # the patient holds while the clinician's phone rings
    assert ask(alice, "snapshot")["call"]["consult"] == {"clinician": "Dr. Rivera", "status": "ringing"}
    refused = ask(alice, "complete_transfer", {"call_id": call_id})
    assert refused == {"ok": False, "error": "The clinician is not on the line with you yet."}

    clinician = phone_system.phone.incoming(ON_CALL_NUMBER)
    clinician.answer()
    clinician.wait_for("An agent has a patient on hold for you")
    eventually(lambda: ask(alice, "snapshot")["call"]["consult"]["status"] == "talking", timeout=15)
    clinician.wait_for_status("in conference (2 participants)")  # Dr. Rivera and Alice, the patient not there
    assert caller.status()["display"] == "waiting for conference"

    answer = ask(alice, "complete_transfer", {"call_id": call_id})

    assert answer == {"ok": True, "clinician": "Dr. Rivera"}
    caller.wait_for_status("in conference (2 participants)")  # the patient and Dr. Rivera
    eventually(lambda: device.leg(device_leg(phone_system, call_id))["ended"], timeout=15)  # Alice has left
    view = ask(alice, "snapshot")["call"]
    assert view["state"] == "completed"  # Alice wraps up while they talk
    assert ask(alice, "wrap_up", {"call_id": call_id, "disposition": "transferred"})["ok"] is True
    clinician.hang_up()
    caller.wait_for_status("ended")
    kinds = _kinds(app, call_id)
    assert kinds.index("held") < kinds.index("consult_started") < kinds.index("consult_answered") \
        < kinds.index("transfer_completed")
    with app.app_context():
        done = db.session.scalar(select(CallEvent).where(CallEvent.call_id == call_id,
                                                         CallEvent.kind == "transfer_completed"))
        assert done.data == {"clinician": "Dr. Rivera", "by": world["alice"], "mode": "warm"}


def test_a_clinician_who_answers_before_twilio_has_told_us_the_calls_sid_still_reaches_the_agent(
        phone_system, world, agent_on_duty, on_call, monkeypatch):
    """Twilio may ring the clinician, and they may answer, before the REST answer with the call's sid is
    back: the consult's webhooks name the consult itself, so the clinician still hears who is waiting."""
    caller, alice, device, call_id = _talking_to_alice(phone_system, world)
    gateway = phone_system.app.gateway
    place_call = gateway.place_call
    heard = []

    def answered_before_the_rest_reply(*args, **kwargs):
        sid = place_call(*args, **kwargs)
        clinician = phone_system.phone.incoming(ON_CALL_NUMBER)
        clinician.answer()
        heard.append(clinician.wait_for("An agent has a patient on hold for you"))
        heard.append(clinician)
        return sid

    monkeypatch.setattr(gateway, "place_call", answered_before_the_rest_reply)
    assert ask(alice, "consult", {"call_id": call_id})["ok"] is True

    clinician = heard[1]
    clinician.wait_for_status("in conference (2 participants)")  # Dr. Rivera and Alice
    eventually(lambda: ask(alice, "snapshot")["call"]["consult"]["status"] == "talking", timeout=15)
    assert ask(alice, "complete_transfer", {"call_id": call_id})["ok"] is True
    caller.wait_for_status("in conference (2 participants)")  # the patient and Dr. Rivera
    clinician.hang_up()
    caller.wait_for_status("ended")


def test_going_back_to_the_caller_ends_the_clinicians_call(phone_system, world, agent_on_duty, on_call):
    caller, alice, device, call_id = _talking_to_alice(phone_system, world)
    assert ask(alice, "consult", {"call_id": call_id})["ok"] is True
    clinician = phone_system.phone.incoming(ON_CALL_NUMBER)
    clinician.answer()
    eventually(lambda: ask(alice, "snapshot")["call"]["consult"]["status"] == "talking", timeout=15)

    assert ask(alice, "hold", {"call_id": call_id, "hold": False}) == {"ok": True}

    clinician.wait_for_status("ended")
    caller.wait_for_status("in conference (2 participants)")
    assert ask(alice, "snapshot")["call"]["consult"] is None
    assert "consult_ended" in _kinds(phone_system.app, call_id)


def test_a_patient_whose_agent_drops_while_on_hold_is_put_back_in_line(phone_system, world, agent_on_duty):
    caller, alice, device, call_id = _talking_to_alice(phone_system, world)
    assert ask(alice, "hold", {"call_id": call_id, "hold": True})["ok"] is True
    caller.wait_for("[hold music]")

    device.disconnect(device_leg(phone_system, call_id))  # Alice's browser goes away

    caller.wait_for("lost the line to the person helping you")
    caller.wait_until(lambda s: s["display"].startswith("in queue"))
    kinds = _kinds(phone_system.app, call_id)
    assert "agent_left_caller_on_hold" in kinds and "requeued" in kinds
    assert phone_system.app.call_queue.position(call_id) == 1
    with phone_system.app.app_context():  # the next agent starts afresh: no hold, no leg, no consult
        call = db.session.get(Call, call_id)
        assert (call.hold, call.agent_leg_sid, call.consult_ref, call.agent_id) == (None, None, None, None)


def device_leg(phone_system, call_id: int) -> str:
    with phone_system.app.app_context():
        return db.session.get(Call, call_id).agent_leg_sid


def test_a_patient_who_hangs_up_during_a_consult_ends_the_clinicians_call_and_the_agents_room(
        phone_system, world, agent_on_duty, on_call):
    caller, alice, device, call_id = _talking_to_alice(phone_system, world)
    leg = device_leg(phone_system, call_id)
    assert ask(alice, "consult", {"call_id": call_id})["ok"] is True
    clinician = phone_system.phone.incoming(ON_CALL_NUMBER)  # still ringing

    caller.hang_up()

    clinician.wait_for_status("ended")  # nobody will tell them of a patient who is gone
    eventually(lambda: device.leg(leg)["ended"], timeout=15)  # Alice is not left in an empty room
    assert "consult_ended" in _kinds(phone_system.app, call_id)
    assert ask(alice, "snapshot")["call"]["consult"] is None
