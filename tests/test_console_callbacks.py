"""Keep-my-place callbacks in the console: marked in the queue, taken like any caller (the app calls
the patient), and an unanswered callback never leaves the agent stuck."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from agents_ui.broadcast import NAMESPACE
from callcenter.extensions import db
from callcenter.models import Call, CallbackTask
from tests.support import (
    ACCOUNT_SID,
    ASKED_NUMBER,
    MAPLE_NUMBER,
    PATIENT,
    agent_answers,
    agent_device,
    answer_call,
    ask,
    connect_url,
    console_for,
    eventually,
    kept_place,
    outbound_status,
    received,
    task_of,
    waiting_call,
)


def test_it_marks_a_kept_place_as_a_callback_in_the_queue(app, alice):
    holding = waiting_call(app, call_sid="CA" + "h" * 32)
    callback = kept_place(app)

    rows = ask(alice, "snapshot")["queue"]["waiting"]

    assert [r["id"] for r in rows] == [holding, callback]
    assert (rows[0]["callback"], rows[0]["callback_number"]) == (False, None)
    assert rows[1]["callback"] is True
    assert rows[1]["callback_number"] == "•••0188"  # the number they asked for, masked like any other
    assert rows[1]["caller"] == "•••0123"
    assert ASKED_NUMBER not in str(rows)


def test_it_calls_the_patient_back_when_an_agent_takes_a_callback(app, world, alice, bob, twilio_http):
    call_id = kept_place(app)
    bob.get_received(NAMESPACE)

    answer = answer_call(app, alice, call_id)

    assert answer["ok"] is True
    assert answer["call"]["state"] == "connecting"
    assert answer["call"]["callback"] == {"number": ASKED_NUMBER, "status": "in_progress"}
    [placed] = twilio_http.requests
    assert (placed["method"], placed["url"]) == (
        "POST", f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json")
    assert (placed["data"]["To"], placed["data"]["From"], placed["data"]["Url"]) == (
        ASKED_NUMBER, MAPLE_NUMBER, connect_url(call_id))
    assert placed["data"]["StatusCallback"] == "http://localhost/ivr/status"
    # The agent's panel keeps the call while the patient's phone rings; the queue no longer has it.
    snapshot = ask(alice, "snapshot")
    assert (snapshot["call"]["id"], snapshot["call"]["state"]) == (call_id, "connecting")
    assert snapshot["me"]["status"] == "on_call"
    assert received(bob, "queue")[-1]["waiting"] == []


def test_it_does_not_wrap_up_a_callback_while_the_patients_phone_rings(app, alice):
    call_id = kept_place(app)
    answer_call(app, alice, call_id)

    answer = ask(alice, "wrap_up", {"call_id": call_id, "disposition": "other", "notes": "No answer yet"})

    assert answer == {"ok": False,
                      "error": "The patient's phone is still ringing. Wait until they answer or the call ends."}
    assert task_of(app, call_id).status == "in_progress"


def test_it_frees_the_agent_when_the_patient_does_not_answer(app, world, alice, twilio, twilio_http):
    call_id = kept_place(app)
    ask(alice, "available", {"available": True})
    answer_call(app, alice, call_id)
    outbound_sid = task_of(app, call_id).outbound_call_sid

    assert outbound_status(twilio, outbound_sid, "ringing", 1).status_code == 204
    assert outbound_status(twilio, outbound_sid, "no-answer", 2).status_code == 204

    snapshot = ask(alice, "snapshot")
    assert snapshot["call"] is None  # the panel is free ...
    assert snapshot["me"]["status"] == "available"  # ... and the agent is offered calls again
    assert app.presence.is_available(world["alice"])
    # Nobody reached the patient: the callback is on the list for someone to try again.
    [listed] = snapshot["callbacks"]
    assert (listed["call_id"], listed["number"], listed["reason"]) == (call_id, ASKED_NUMBER, "keep_place")
    # The agent can still note what happened; that does not pretend the patient was called back.
    answer = ask(alice, "wrap_up", {"call_id": call_id, "disposition": "other",
                                    "notes": "Rang out, no voicemail box."})
    assert answer == {"ok": True, "message_id": None}
    with app.app_context():
        call = db.session.get(Call, call_id)
        assert (call.state, call.disposition, call.notes) == ("abandoned", "other", "Rang out, no voicemail box.")
        assert call.outcome is None
    assert task_of(app, call_id).status == "open"
    assert [c["call_id"] for c in ask(alice, "snapshot")["callbacks"]] == [call_id]
    # Whoever calls the patient later closes the promise from the list.
    assert ask(alice, "complete_callback", {"task_id": listed["id"]}) == {"ok": True, "task_id": listed["id"]}
    with app.app_context():
        assert db.session.get(Call, call_id).outcome == "callback_completed"


def test_it_lets_the_agent_take_the_next_caller_after_an_unanswered_callback(app, alice, twilio):
    call_id = kept_place(app)
    answer_call(app, alice, call_id)
    outbound_status(twilio, task_of(app, call_id).outbound_call_sid, "busy", 1)
    next_caller = waiting_call(app, call_sid="CA" + "n" * 32)

    answer = answer_call(app, alice, next_caller)

    assert answer["ok"] is True and answer["call"]["id"] == next_caller


def test_it_does_not_take_a_message_from_a_patient_nobody_reached(app, alice, twilio):
    call_id = kept_place(app)
    answer_call(app, alice, call_id)
    outbound_status(twilio, task_of(app, call_id).outbound_call_sid, "no-answer", 1)

    answer = ask(alice, "wrap_up", {"call_id": call_id, "disposition": "message_taken", "message": "Call back"})

    assert answer == {"ok": False, "error": "The patient did not answer, so there is no message to save. "
                                            "Add a note instead; the callback stays on the list."}


def test_it_completes_the_callback_when_the_patient_answered(app, alice, twilio):
    call_id = kept_place(app)
    answer_call(app, alice, call_id)
    outbound_sid = task_of(app, call_id).outbound_call_sid
    # The patient answers: Twilio fetches the connect URL for our leg, then the bridge ends.
    connect = twilio.post(f"/ivr/connect/{call_id}", {"CallSid": outbound_sid, "AccountSid": ACCOUNT_SID,
                                                      "From": MAPLE_NUMBER, "To": ASKED_NUMBER,
                                                      "CallStatus": "in-progress", "Direction": "outbound-api"})
    assert b"returning your call" in connect.data
    assert ask(alice, "snapshot")["call"]["state"] == "connecting"  # Alice's browser is still ringing
    agent_answers(twilio, call_id, outbound_sid, ask(alice, "snapshot")["me"]["id"])
    assert ask(alice, "snapshot")["call"]["state"] == "connected"
    twilio.post(f"/ivr/dial-done/{call_id}", {"CallSid": outbound_sid, "AccountSid": ACCOUNT_SID,
                                              "DialCallStatus": "completed", "DialCallDuration": "95"})

    answer = ask(alice, "wrap_up", {"call_id": call_id, "disposition": "answered_question"})

    assert answer == {"ok": True, "message_id": None}
    task = task_of(app, call_id)
    assert task.status == "done"
    with app.app_context():
        assert db.session.get(Call, call_id).outcome == "callback_completed"


def test_it_keeps_a_waiting_callback_off_the_list_of_callbacks_to_make(app, alice):
    call_id = kept_place(app)
    task_id = task_of(app, call_id).id

    assert ask(alice, "snapshot")["callbacks"] == []
    assert ask(alice, "complete_callback", {"task_id": task_id}) == {
        "ok": False, "error": "This patient is waiting in the queue; take them from there."}
    assert app.call_queue.position(call_id) == 1


def test_a_caller_keeps_their_place_and_is_called_back_from_the_console(phone_system, world, agent_on_duty):
    from emulator import configure

    configure(phone_system.emulator, speed=20.0)
    app = phone_system.app
    app.config["PUBLIC_BASE_URL"] = phone_system.app_url  # where the emulator reaches the app's webhooks

    def the_call() -> Call:
        with app.app_context():
            return db.session.scalar(select(Call))

    caller = phone_system.phone.dial(PATIENT, MAPLE_NUMBER)
    caller.wait_for("press 1")
    caller.press("2")
    caller.wait_for("in line")
    with app.app_context():  # the caller has held for over two minutes
        call = db.session.scalar(select(Call))
        call.queued_at = datetime.now(UTC) - timedelta(seconds=130)
        db.session.commit()
    caller.wait_for("keep your place in line", timeout=20)
    caller.press("1")
    caller.wait_for("ending in 0 1 2 3")
    caller.press("1")
    caller.wait_for("we will call you back when it is your turn")
    caller.wait_for_status("completed")
    eventually(lambda: the_call().state == "callback_waiting" and the_call().ended_at is not None, timeout=15)
    call_id = the_call().id

    alice = console_for(app, "alice@example.test")
    [row] = ask(alice, "snapshot")["queue"]["waiting"]
    assert (row["id"], row["callback"], row["callback_number"]) == (call_id, True, "•••0123")

    taken = answer_call(app, alice, call_id)
    assert taken["ok"] is True, taken
    assert taken["call"]["callback"]["number"] == PATIENT

    device = agent_device(phone_system, world["alice"])  # Alice's browser audio
    ringing = phone_system.phone.incoming(PATIENT)  # the app called the patient back
    ringing.answer()
    ringing.wait_for("returning your call")
    assert device.answer(call_id) is not None
    ringing.wait_until(lambda s: s["connected_to"] == f"client:agent-{world['alice']}")
    eventually(lambda: the_call().state == "connected", timeout=15)
    assert ask(alice, "snapshot")["call"]["state"] == "connected"

    ringing.hang_up()
    eventually(lambda: the_call().state == "completed", timeout=15)
    assert ask(alice, "wrap_up", {"call_id": call_id, "disposition": "answered_question"})["ok"] is True
    with app.app_context():
        task = db.session.scalar(select(CallbackTask))
        assert (task.status, task.completed_by_id) == ("done", world["alice"])
        assert db.session.get(Call, call_id).outcome == "callback_completed"
