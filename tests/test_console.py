"""The agents' live console over Socket.IO: what agents see and what their clicks do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from agents_ui.broadcast import NAMESPACE
from callcenter import calls, ledger
from callcenter.extensions import db
from callcenter.models import Call, CallbackTask, CallEvent, Message
from tests.support import (
    ACCOUNT_SID,
    HARBOR_NUMBER,
    MAPLE_NUMBER,
    PATIENT,
    SID,
    agent_answers,
    answer_call,
    ask,
    connect_url,
    console_for,
    log_in,
    log_out,
    open_console,
    received,
    ring,
    waiting_call,
)


def test_it_refuses_a_socket_without_a_login(app, client, world):
    io = open_console(app, client)
    assert not io.is_connected(NAMESPACE)


def test_it_refuses_practice_staff(app, client, world):
    assert log_in(client, "desk@maple.test").status_code == 302
    io = open_console(app, client)
    assert not io.is_connected(NAMESPACE)


def test_it_sends_a_snapshot_with_the_waiting_caller_on_connect(app, client, world):
    call_id = waiting_call(app, digit="1")
    log_in(client, "alice@example.test")
    io = open_console(app, client)
    assert io.is_connected(NAMESPACE)

    [snapshot] = received(io, "snapshot")
    [row] = snapshot["queue"]["waiting"]
    assert row["id"] == call_id
    assert row["practice"] == "Maple Street Family Medicine"
    assert row["urgent"] is True
    assert row["caller"] == "•••0123"  # masked in the queue
    assert snapshot["me"]["status"] == "away"
    assert snapshot["call"] is None


def test_it_answers_a_snapshot_request(app, alice):
    call_id = waiting_call(app)
    answer = ask(alice, "snapshot")
    assert answer["ok"] is True
    assert [w["id"] for w in answer["queue"]["waiting"]] == [call_id]
    assert answer["me"]["name"] == "Alice"


def test_it_makes_an_agent_available_and_away(app, world, alice, bob):
    answer = ask(alice, "available", {"available": True})
    assert answer == {"ok": True, "me": {**answer["me"], "status": "available", "available": True}}
    assert app.presence.available_agents() == [world["alice"]]
    assert received(bob, "queue")[-1]["available_agents"] == [world["alice"]]

    answer = ask(alice, "available", {"available": False})
    assert answer["me"]["status"] == "away"
    assert app.presence.available_agents() == []


def test_it_refuses_a_presence_that_is_not_yes_or_no(alice):
    assert ask(alice, "available", {"available": "yes"}) == {"ok": False, "error": "Choose available or away."}


def test_it_gives_the_call_to_the_agent_who_takes_it(app, world, alice, twilio_http):
    call_id = waiting_call(app)

    answer = answer_call(app, alice, call_id)

    assert answer["ok"] is True
    assert answer["call"]["practice"] == {"id": world["maple"], "name": "Maple Street Family Medicine",
                                          "instructions": "Dr. Rivera is on call."}
    assert answer["call"]["caller"] == PATIENT
    [request] = twilio_http.requests
    assert request["method"] == "POST"
    assert request["url"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{SID}.json"
    assert request["data"] == {"Url": connect_url(call_id), "Method": "POST"}
    with app.app_context():
        call = db.session.get(Call, call_id)
        assert (call.state, call.agent_id) == ("connecting", world["alice"])
    # Every console of the taker hears about the call, and the next snapshot still has it.
    assert received(alice, "snapshot")[-1]["call"]["id"] == call_id
    assert ask(alice, "snapshot")["me"]["status"] == "on_call"


def test_only_the_agent_the_call_rings_for_can_accept_it(app, world, alice, bob, twilio_http):
    call_id = waiting_call(app)
    ring(app, alice, call_id)

    answer = ask(bob, "accept", {"call_id": call_id})

    assert answer == {"ok": False, "error": "This call is no longer ringing for you."}
    assert twilio_http.requests == []
    assert ask(alice, "accept", {"call_id": call_id})["ok"] is True
    assert ask(alice, "accept", {"call_id": call_id})["error"] == "Finish your current call before taking another."
    assert len(twilio_http.requests) == 1
    with app.app_context():
        assert db.session.get(Call, call_id).agent_id == world["alice"]


def test_it_tells_every_console_when_a_call_is_taken(app, world, alice, bob):
    taken = waiting_call(app)
    other = waiting_call(app, call_sid="CA" + "b" * 32, dialled=HARBOR_NUMBER, caller="+16175550199")
    bob.get_received(NAMESPACE)
    assert [w["id"] for w in ask(bob, "snapshot")["queue"]["waiting"]] == [taken, other]

    answer_call(app, alice, taken)

    queue = received(bob, "queue")[-1]
    assert [w["id"] for w in queue["waiting"]] == [other]


def test_it_will_not_give_an_agent_a_second_call(app, alice):
    first = waiting_call(app)
    second = waiting_call(app, call_sid="CA" + "b" * 32)
    answer_call(app, alice, first)

    answer = answer_call(app, alice, second)

    assert answer == {"ok": False, "error": "Finish your current call before taking another."}
    assert app.call_queue.position(second) == 1


def test_it_puts_the_caller_back_when_twilio_refuses(app, world, alice, bob, twilio_http):
    call_id = waiting_call(app)
    ask(alice, "available", {"available": True})
    twilio_http.fail_with = 400
    bob.get_received(NAMESPACE)

    answer = answer_call(app, alice, call_id)

    assert answer == {"ok": False, "error": "Could not reach the caller's line; they are back in the queue."}
    assert app.call_queue.position(call_id) == 1
    assert [w["id"] for w in received(bob, "queue")[-1]["waiting"]] == [call_id]
    assert app.presence.is_available(world["alice"])  # still offered calls
    snapshot = ask(alice, "snapshot")
    assert snapshot["call"] is None and snapshot["me"]["status"] == "available"


def test_it_shows_the_callers_earlier_calls_to_this_practice(app, world, alice):
    with app.app_context():
        earlier = Call(call_sid="CA" + "e" * 32, practice_id=world["maple"], from_number=PATIENT,
                       to_number=MAPLE_NUMBER, state="wrapped_up", reason="message", disposition="message_taken",
                       outcome="message_taken", created_at=ledger.now() - timedelta(days=2))
        elsewhere = Call(call_sid="CA" + "f" * 32, practice_id=world["harbor"], from_number=PATIENT,
                         to_number=HARBOR_NUMBER, state="wrapped_up", reason="operator",
                         created_at=ledger.now() - timedelta(days=1))
        db.session.add_all([earlier, elsewhere])
        db.session.flush()
        db.session.add(Message(practice_id=world["maple"], call_id=earlier.id, body="Needs a refill of lisinopril.",
                               caller_name="Pat Doe"))
        db.session.commit()
        earlier_id = earlier.id
    call_id = waiting_call(app)

    call = answer_call(app, alice, call_id)["call"]

    [past] = call["history"]
    assert past["id"] == earlier_id
    assert (past["reason"], past["disposition"]) == ("message", "message_taken")
    assert [m["body"] for m in past["messages"]] == ["Needs a refill of lisinopril."]
    assert past["at"] is not None


def test_it_hangs_up_by_sending_the_caller_to_goodbye(app, world, alice, twilio_http):
    call_id = waiting_call(app)
    answer_call(app, alice, call_id)
    with app.app_context():
        calls.connected(db.session, db.session.get(Call, call_id))
        db.session.commit()

    assert ask(alice, "hangup", {"call_id": call_id}) == {"ok": True}

    request = twilio_http.requests[-1]
    assert request["url"].endswith(f"/Calls/{SID}.json")
    assert request["data"] == {"Url": "http://localhost/ivr/goodbye", "Method": "POST"}


def test_it_explains_when_the_hang_up_fails(app, alice, twilio_http):
    call_id = waiting_call(app)
    answer_call(app, alice, call_id)
    with app.app_context():
        calls.connected(db.session, db.session.get(Call, call_id))
        db.session.commit()
    twilio_http.fail_with = 400

    answer = ask(alice, "hangup", {"call_id": call_id})

    assert answer == {"ok": False,
                      "error": "Could not end the call; the caller may already have hung up. Try again."}


def test_it_does_not_hang_up_someone_elses_call(app, alice, bob, twilio_http):
    call_id = waiting_call(app)
    answer_call(app, alice, call_id)

    assert ask(bob, "hangup", {"call_id": call_id}) == {"ok": False, "error": "This is not your call."}
    assert len(twilio_http.requests) == 1


def test_it_saves_the_wrap_up_and_the_message_for_the_practice(app, world, alice, bob):
    call_id = waiting_call(app)
    ask(alice, "available", {"available": True})
    answer_call(app, alice, call_id)
    assert not app.presence.is_available(world["alice"])  # no offers during the call
    bob.get_received(NAMESPACE)

    answer = ask(alice, "wrap_up", {
        "call_id": call_id, "disposition": "message_taken", "notes": "Calm, wants a call before noon.",
        "message": "Please call about lab results.", "caller_name": "Pat Doe",
        "callback_number": "(415) 555-0123", "callback_confirmed": True, "urgency": "routine",
    })

    assert answer["ok"] is True
    with app.app_context():
        call = db.session.get(Call, call_id)
        assert (call.state, call.disposition, call.outcome) == ("wrapped_up", "message_taken", "message_taken")
        assert call.notes == "Calm, wants a call before noon."
        [message] = db.session.scalars(select(Message)).all()
        assert message.id == answer["message_id"]
        assert (message.practice_id, message.call_id, message.taken_by_id) == (world["maple"], call_id, world["alice"])
        assert (message.body, message.caller_name, message.callback_number) == (
            "Please call about lab results.", "Pat Doe", PATIENT)
    assert app.presence.is_available(world["alice"])  # back to taking calls
    assert world["alice"] in received(bob, "queue")[-1]["available_agents"]
    snapshot = ask(alice, "snapshot")
    assert (snapshot["call"], snapshot["me"]["status"]) == (None, "available")


def test_it_leaves_an_agent_away_after_wrap_up_if_they_were_away(app, world, alice):
    call_id = waiting_call(app)
    answer_call(app, alice, call_id)

    answer = ask(alice, "wrap_up", {"call_id": call_id, "disposition": "answered_question", "notes": ""})

    assert answer == {"ok": True, "message_id": None}
    assert not app.presence.is_available(world["alice"])
    with app.app_context():
        assert db.session.get(Call, call_id).outcome == "handled"
        assert db.session.scalars(select(Message)).all() == []


def test_it_lets_an_agent_choose_to_step_away_after_the_call(app, world, alice):
    call_id = waiting_call(app)
    ask(alice, "available", {"available": True})
    answer_call(app, alice, call_id)

    me = ask(alice, "available", {"available": False})["me"]
    assert me == {"id": world["alice"], "name": "Alice", "role": "agent", "status": "on_call", "state": "on_call",
                  "reason": None, "since": me["since"], "available": False}
    ask(alice, "wrap_up", {"call_id": call_id, "disposition": "other"})

    assert not app.presence.is_available(world["alice"])


@pytest.mark.parametrize(("form", "error"), [
    ({"disposition": ""}, "Choose a disposition"),
    ({"disposition": "message_taken", "message": "  "}, "Write the message for the practice"),
    ({"disposition": "other", "callback_number": "call me maybe"},
     "The callback number does not look like a phone number."),
    ({"disposition": "other", "urgency": "whenever"}, "Urgency is routine or urgent."),
    ({"disposition": "message_taken", "message": "Refill please"}, "Add the number the practice should call back"),
    ({"disposition": "appointment", "callback_number": "+14155550123"}, "Read the callback number back"),
    ({"disposition": "message_taken", "message": "Refill", "callback_number": "+14155550123",
      "callback_confirmed": "yes"}, "Read the callback number back"),
])
def test_it_explains_what_is_wrong_with_a_wrap_up(app, alice, form, error):
    call_id = waiting_call(app)
    answer_call(app, alice, call_id)

    answer = ask(alice, "wrap_up", {"call_id": call_id, **form})

    assert answer["ok"] is False
    assert answer["error"].startswith(error)
    with app.app_context():
        call = db.session.get(Call, call_id)
        assert (call.state, call.outcome, call.disposition) == ("connecting", None, None)


def test_it_keeps_an_agent_out_of_another_agents_wrap_up(app, alice, bob):
    call_id = waiting_call(app)
    answer_call(app, alice, call_id)

    answer = ask(bob, "wrap_up", {"call_id": call_id, "disposition": "other"})

    assert answer == {"ok": False, "error": "This call belongs to another agent."}


def abandoned_with_callback(app, world) -> tuple[int, int]:
    """A caller who hung up while waiting: the ledger promises them a callback."""
    call_id = waiting_call(app)
    with app.app_context():
        call = db.session.get(Call, call_id)
        calls.line_ended(db.session, app.call_queue, call, "completed", 3, 40)
        db.session.commit()
        task = db.session.scalar(select(CallbackTask).where(CallbackTask.call_id == call_id))
        return call_id, task.id


def test_it_lists_open_callbacks(app, world, alice):
    call_id, task_id = abandoned_with_callback(app, world)

    [task] = ask(alice, "snapshot")["callbacks"]

    assert task["id"] == task_id
    assert (task["practice"], task["number"], task["reason"], task["call_id"]) == (
        "Maple Street Family Medicine", PATIENT, "abandoned", call_id)
    assert task["due_at"]


def test_it_completes_a_callback(app, world, alice, bob):
    call_id, task_id = abandoned_with_callback(app, world)
    bob.get_received(NAMESPACE)

    answer = ask(alice, "complete_callback", {"task_id": task_id})

    assert answer == {"ok": True, "task_id": task_id}
    with app.app_context():
        task = db.session.get(CallbackTask, task_id)
        assert (task.status, task.completed_by_id) == ("done", world["alice"])
        assert task.completed_at is not None
        assert db.session.get(Call, call_id).outcome == "callback_completed"
    assert received(bob, "callbacks")[-1]["callbacks"] == []
    assert ask(bob, "snapshot")["callbacks"] == []
    assert ask(bob, "complete_callback", {"task_id": task_id}) == {
        "ok": False, "error": "This callback has already been done."}


def test_it_closes_the_socket_when_the_agent_logs_out(app, world):
    browser = app.test_client()
    log_in(browser, "alice@example.test")
    io = open_console(app, browser)
    ask(io, "available", {"available": True})

    log_out(browser)

    assert not io.is_connected(NAMESPACE)
    assert not app.presence.is_available(world["alice"])  # no offers to someone who left


def test_it_closes_the_socket_when_the_session_expires(app, world, alice):
    assert ask(alice, "snapshot")["ok"] is True
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(0)  # the session has now been idle too long

    answer = ask(alice, "snapshot")

    assert answer == {"ok": False, "error": "Your session has ended. Please log in again."}
    assert not alice.is_connected(NAMESPACE)


def test_it_keeps_the_socket_while_the_agent_is_active(app, world):
    browser = app.test_client()
    log_in(browser, "alice@example.test")
    io = open_console(app, browser)
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=2)
    app.presence.mark_seen(world["alice"], 0.0, ttl_seconds=60)  # last activity long ago ...

    assert browser.post("/console/keepalive").get_json() == {"ok": True}  # ... until now

    assert ask(io, "snapshot")["ok"] is True
    assert io.is_connected(NAMESPACE)


def test_it_records_who_took_and_wrapped_up_the_call(app, world, alice):
    call_id = waiting_call(app)
    answer_call(app, alice, call_id)
    assert ask(alice, "wrap_up", {"call_id": call_id, "disposition": "appointment", "callback_number": PATIENT,
                                  "callback_confirmed": True})["ok"] is True

    with app.app_context():
        kinds = {e.kind: e.actor_id for e in db.session.scalars(select(CallEvent).where(CallEvent.call_id == call_id))}
    assert kinds["taken"] == world["alice"]
    assert kinds["wrapped_up"] == world["alice"]


def test_a_caller_who_hangs_up_while_the_agents_leg_rings_has_abandoned_the_call(app, world, alice, twilio):
    call_id = waiting_call(app)
    answer_call(app, alice, call_id)
    twilio.post(f"/ivr/connect/{call_id}", {"CallSid": SID, "To": MAPLE_NUMBER, "From": PATIENT})

    twilio.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "SequenceNumber": "4", "CallDuration": "30",
                                "To": MAPLE_NUMBER, "From": PATIENT, "Direction": "inbound"})

    with app.app_context():
        call = db.session.get(Call, call_id)
        assert (call.state, call.answered_at) == ("abandoned", None)
        assert db.session.scalar(select(CallbackTask).where(CallbackTask.call_id == call_id)) is not None
    pushed = received(alice, "snapshot")[-1]
    assert pushed["call"] is None  # nothing to wrap up: the agent never spoke to them
    assert app.offers.missed_in_a_row(world["alice"]) == 0


def test_the_agent_hears_at_once_when_the_caller_hangs_up(app, world, alice, twilio):
    call_id = waiting_call(app)
    answer_call(app, alice, call_id)
    twilio.post(f"/ivr/connect/{call_id}", {"CallSid": SID, "To": MAPLE_NUMBER, "From": PATIENT})
    agent_answers(twilio, call_id, SID, world["alice"])
    assert received(alice, "snapshot")[-1]["call"]["state"] == "connected"

    twilio.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "SequenceNumber": "4", "CallDuration": "95",
                                "To": MAPLE_NUMBER, "From": PATIENT, "Direction": "inbound"})

    [pushed] = received(alice, "snapshot")  # pushed from the webhook's change, not asked for
    assert (pushed["call"]["id"], pushed["call"]["state"]) == (call_id, "completed")
    assert pushed["me"]["state"] == "wrap_up"


def test_a_repeat_caller_is_served_sooner_shown_their_open_case_and_the_case_closes_with_the_call(
        app, world, alice, twilio):
    first = waiting_call(app)  # the patient hangs up while waiting: a callback is owed to them
    twilio.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "SequenceNumber": "2",
                                "To": MAPLE_NUMBER, "From": PATIENT, "Direction": "inbound"})
    earlier = waiting_call(app, call_sid="CA" + "e" * 32, caller="+14155550177")  # someone else, in line first
    again = waiting_call(app, call_sid="CA" + "f" * 32)  # the same patient calls again

    assert [w.call_id for w in app.call_queue.waiting()] == [again, earlier]  # served sooner
    ring(app, alice, again)
    offer = received(alice, "offer")[-1]
    assert offer["repeat_caller"] is True
    assert (offer["open_case"]["kind"], offer["open_case"]["call_id"]) == ("callback", first)

    call = ask(alice, "accept", {"call_id": again})["call"]
    assert call["open_case"]["kind"] == "callback"
    twilio.post(f"/ivr/connect/{again}", {"CallSid": "CA" + "f" * 32, "To": MAPLE_NUMBER, "From": PATIENT})
    agent_answers(twilio, again, "CA" + "f" * 32, world["alice"])
    assert ask(alice, "wrap_up", {"call_id": again, "disposition": "answered_question"})["ok"] is True

    with app.app_context():
        task = db.session.scalar(select(CallbackTask).where(CallbackTask.call_id == first))
        assert (task.status, task.completed_by_id) == ("done", world["alice"])
        assert db.session.get(Call, first).outcome == "callback_completed"


def test_a_wrap_up_past_the_after_call_limit_goes_to_the_supervisors_worklist(app, world, alice, twilio):
    from ops.jobs import reconcile

    sam = console_for(app, "sam@example.test")
    call_id = waiting_call(app)
    answer_call(app, alice, call_id)
    twilio.post(f"/ivr/connect/{call_id}", {"CallSid": SID, "To": MAPLE_NUMBER, "From": PATIENT})
    agent_answers(twilio, call_id, SID, world["alice"])
    twilio.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "SequenceNumber": "4", "CallDuration": "60",
                                "To": MAPLE_NUMBER, "From": PATIENT, "Direction": "inbound"})
    with app.app_context():  # Alice went quiet: the caller left three minutes ago
        db.session.get(Call, call_id).ended_at = ledger.now() - timedelta(minutes=3)
        db.session.commit()
        report = reconcile()
        again = reconcile()

    assert report["wrap_up_overdue"] == [call_id] and again["wrap_up_overdue"] == []  # raised once
    [notice] = received(sam, "supervisor_notice")
    assert "Alice has not wrapped up a call for Maple Street Family Medicine" in notice["text"]
    [item] = ask(sam, "snapshot")["worklist"]
    assert (item["call_id"], item["agent"]) == (call_id, "Alice")
    assert ask(alice, "take_over", {"call_id": call_id})["error"] == "Only a supervisor can take over a wrap-up."

    assert ask(sam, "take_over", {"call_id": call_id})["ok"] is True
    assert ask(sam, "wrap_up", {"call_id": call_id, "disposition": "other", "notes": "Agent left."})["ok"] is True
    with app.app_context():
        assert db.session.get(Call, call_id).outcome == "handled"
    assert ask(sam, "snapshot")["worklist"] == []


def test_an_agent_transfers_the_caller_to_the_clinician_on_call_now(app, world, alice, twilio, twilio_http, on_call):
    call_id = waiting_call(app)
    answer_call(app, alice, call_id)
    twilio.post(f"/ivr/connect/{call_id}", {"CallSid": SID, "To": MAPLE_NUMBER, "From": PATIENT})
    agent_answers(twilio, call_id, SID, world["alice"])
    assert ask(alice, "snapshot")["call"]["on_call_now"]["name"] == "Dr. Rivera"  # from the schedule

    answer = ask(alice, "transfer", {"call_id": call_id})

    assert answer == {"ok": True, "clinician": "Dr. Rivera"}
    assert twilio_http.requests[-1]["data"] == {"Url": f"http://localhost/ivr/transfer/{call_id}", "Method": "POST"}
    through = twilio.post(f"/ivr/transfer/{call_id}", {"CallSid": SID, "To": MAPLE_NUMBER, "From": PATIENT})
    assert f'url="/ivr/on-call-whisper/{call_id}">{on_call}</Number>' in through.get_data(as_text=True)
    assert ask(alice, "wrap_up", {"call_id": call_id, "disposition": "transferred"})["ok"] is True
    with app.app_context():
        kinds = [e.kind for e in db.session.scalars(select(CallEvent).where(CallEvent.call_id == call_id))]
    assert "transferred_to_on_call" in kinds and "put_through_to_on_call" in kinds


def test_a_transfer_with_nobody_on_call_is_refused_in_plain_words(app, world, alice, twilio, twilio_http):
    call_id = waiting_call(app)
    answer_call(app, alice, call_id)
    twilio.post(f"/ivr/connect/{call_id}", {"CallSid": SID, "To": MAPLE_NUMBER, "From": PATIENT})
    agent_answers(twilio, call_id, SID, world["alice"])
    sent = len(twilio_http.requests)

    assert ask(alice, "transfer", {"call_id": call_id}) == {
        "ok": False, "error": "Nobody is on call for this practice now. Take an urgent message instead."}
    assert len(twilio_http.requests) == sent
