"""The IVR webhooks, driven with signed requests as Twilio sends them."""

import pytest
from sqlalchemy import func, select

from callcenter.extensions import db
from callcenter.models import Call, CallbackTask, CallEvent, Practice, SecurityEvent
from tests.support import MAPLE_NUMBER, PATIENT, SID, TwilioSigner, incoming
from tests.twiml_helpers import parse, spoken, verbs


def test_it_greets_with_the_practice_name_and_the_emergency_advisory(twilio, world):
    root = parse(twilio.post("/ivr/voice", incoming()))
    assert "Thank you for calling Maple Street Family Medicine." in spoken(root)
    assert "dial 9 1 1" in spoken(root)
    gather = root.find("Gather")
    assert gather.get("action") == "/ivr/menu?attempt=1"
    assert gather.get("numDigits") == "1"
    assert gather.get("input") == "dtmf speech"
    assert "refill" in gather.get("hints")
    menu_text = "".join(gather.itertext())
    for phrase in ("urgent medical question, press 1", "leave a message", "appointments, press 3",
                   "prescription refills, press 4", "billing, press 5", "operator, press 0", "Para español"):
        assert phrase in menu_text
    assert verbs(root)[-1] == "Redirect"  # silence goes back to the menu, it does not end the call


def test_it_records_the_call_on_its_first_webhook_once(app, twilio, world):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/voice", incoming())  # Twilio retried
    with app.app_context():
        call = db.session.scalar(select(Call))
        assert call.practice_id == world["maple"]
        assert call.from_number == PATIENT
        kinds = [e.kind for e in call.events]
        assert kinds == ["entered_ivr"]


def test_it_tells_an_unknown_number_politely(app, twilio, world):
    root = parse(twilio.post("/ivr/voice", incoming(to="+19995550000")))
    assert "not set up with our answering service" in spoken(root)
    assert verbs(root) == ["Say", "Hangup"]
    with app.app_context():
        assert db.session.scalar(select(Call)).outcome == "not_ours"


def test_it_refuses_a_bad_signature_and_changes_nothing(app, twilio, world):
    response = twilio.post("/ivr/voice", incoming(), signature="not-the-signature")
    assert response.status_code == 403
    missing = twilio.client.post("/ivr/voice", data=incoming())
    assert missing.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count(Call.id))) == 0
        kinds = db.session.scalars(select(SecurityEvent.kind)).all()
        assert kinds == ["bad_signature", "bad_signature"]


def test_it_checks_the_signature_against_the_public_url(app, client, world):
    app.config["PUBLIC_BASE_URL"] = "https://answering.example.com"
    local = TwilioSigner(client)  # signs http://localhost/... : not what Twilio signed
    assert local.post("/ivr/voice", incoming()).status_code == 403
    public = TwilioSigner(client, base="https://answering.example.com")
    assert public.post("/ivr/voice", incoming()).status_code == 200


def test_it_checks_the_signature_behind_a_trusted_proxy(client, world):
    proxied = TwilioSigner(client, base="https://calls.example.org")
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "calls.example.org"}
    assert proxied.post("/ivr/voice", incoming(), headers=headers).status_code == 200
    assert proxied.post("/ivr/voice", incoming()).status_code == 403


@pytest.mark.parametrize("digit,reason,urgent", [("1", "urgent", True), ("2", "message", False),
                                                  ("3", "appointment", False), ("4", "refill", False),
                                                  ("5", "billing", False), ("0", "operator", False)])
def test_it_queues_the_caller_for_each_menu_choice(app, twilio, agent_on_duty, world, digit, reason, urgent):
    twilio.post("/ivr/voice", incoming())
    root = parse(twilio.post("/ivr/menu?attempt=1", incoming(Digits=digit)))
    enqueue = root.find("Enqueue")
    assert enqueue.text == f"practice-{world['maple']}"
    assert enqueue.get("waitUrl") == "/ivr/wait"
    assert enqueue.get("action") == "/ivr/queue-exit"
    with app.app_context():
        call = db.session.scalar(select(Call))
        assert (call.state, call.reason, call.priority > 0) == ("queued", reason, urgent)
        assert app.call_queue.position(call.id) == 1


def test_it_puts_urgent_callers_ahead_of_routine_ones(app, twilio, agent_on_duty):
    for n, digit in enumerate(["2", "0", "1"]):
        sid = f"CA{n:032d}"
        twilio.post("/ivr/voice", incoming(sid=sid))
        twilio.post("/ivr/menu?attempt=1", incoming(sid=sid, Digits=digit))
    with app.app_context():
        order = [db.session.get(Call, w.call_id).reason for w in app.call_queue.waiting()]
    assert order == ["urgent", "message", "operator"]


def test_it_tells_the_holding_caller_their_position(app, twilio, agent_on_duty):
    for n in range(2):
        sid = f"CA{n:032d}"
        twilio.post("/ivr/voice", incoming(sid=sid))
        twilio.post("/ivr/menu?attempt=1", incoming(sid=sid, Digits="2"))
    root = parse(twilio.post("/ivr/wait", incoming(sid=f"CA{1:032d}", QueuePosition="2", QueueTime="30")))
    assert "You are still number 2 in line." in spoken(root)
    assert "The wait is about" in spoken(root)
    assert verbs(root) == ["Say", "Pause"]  # no callback offer before two minutes on hold


def test_it_repeats_the_menu_on_a_wrong_key_then_takes_a_message(app, twilio, agent_on_duty):
    twilio.post("/ivr/voice", incoming())
    first = parse(twilio.post("/ivr/menu?attempt=1", incoming(Digits="7")))
    assert "not one of the choices" in spoken(first)
    assert first.find("Gather").get("action") == "/ivr/menu?attempt=2"
    second = parse(twilio.post("/ivr/menu?attempt=2", incoming(Digits="*")))
    assert second.find("Gather").get("action") == "/ivr/menu?attempt=3"
    third = parse(twilio.post("/ivr/menu?attempt=3", incoming(Digits="8")))
    assert "take a message" in spoken(third)
    assert third.find("Enqueue") is not None
    with app.app_context():
        call = db.session.scalar(select(Call))
        assert call.reason == "message"
        assert [e.kind for e in call.events].count("invalid_input") == 3


def test_it_repeats_the_menu_on_silence(twilio, world):
    twilio.post("/ivr/voice", incoming())
    root = parse(twilio.post("/ivr/menu?attempt=1&silent=1", incoming()))
    assert root.find("Gather").get("action") == "/ivr/menu?attempt=2"
    assert "not one of the choices" not in spoken(root)


def test_a_caller_who_hangs_up_while_waiting_is_abandoned_with_a_callback(app, twilio, agent_on_duty):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu?attempt=1", incoming(Digits="2"))
    response = twilio.post("/ivr/status", incoming(CallStatus="completed", CallDuration="75", SequenceNumber="3"))
    assert response.status_code == 204
    twilio.post("/ivr/status", incoming(CallStatus="completed", CallDuration="75", SequenceNumber="3"))  # again
    with app.app_context():
        call = db.session.scalar(select(Call))
        assert call.state == "abandoned"
        assert call.duration_seconds == 75
        assert len(app.call_queue) == 0
        tasks = db.session.scalars(select(CallbackTask)).all()
        assert [(t.number, t.reason, t.status) for t in tasks] == [(PATIENT, "abandoned", "open")]


def test_a_late_status_callback_does_not_move_a_call_backwards(app, twilio, world):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/status", incoming(CallStatus="completed", CallDuration="12", SequenceNumber="3"))
    twilio.post("/ivr/status", incoming(CallStatus="ringing", SequenceNumber="1"))
    with app.app_context():
        call = db.session.scalar(select(Call))
        assert call.telephony_status == "completed"
        assert call.last_sequence == 3
        assert call.state == "abandoned"


def test_it_answers_204_for_a_status_callback_about_an_unknown_call(twilio, world):
    assert twilio.post("/ivr/status", incoming(CallStatus="completed")).status_code == 204


def test_it_answers_safe_twiml_when_the_database_is_down(app):
    from app import create_app
    down = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/gone"})
    response = TwilioSigner(down.test_client()).post("/ivr/voice", incoming())
    root = parse(response)
    assert "leave your name, number and message" in spoken(root)
    assert root.find("Record").get("action") == "/ivr/voicemail"


def test_it_asks_patients_who_text_to_call(twilio, world):
    response = twilio.post("/sms/inbound", {"MessageSid": "SM" + "1" * 32, "From": PATIENT, "To": MAPLE_NUMBER,
                                            "Body": "hello"})
    assert response.status_code == 200
    assert b"does not receive text messages" in response.data


def test_events_are_appended_in_order(app, twilio, agent_on_duty):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu?attempt=1", incoming(Digits="1"))
    with app.app_context():
        kinds = db.session.scalars(select(CallEvent.kind).order_by(CallEvent.id)).all()
    assert kinds == ["entered_ivr", "chose_option", "queued", "routed"]


def test_it_answers_safe_twiml_when_redis_stops_answering(app, world):
    """A Redis that accepts connections but never replies: the caller still gets TwiML in time."""
    import socket
    import threading
    import time

    from app import create_app
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    held = []
    stop = threading.Event()

    def accept_and_ignore():
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                pass

    threading.Thread(target=accept_and_ignore, daemon=True).start()
    try:
        stuck = create_app({**app.config, "REDIS_URL": f"redis://127.0.0.1:{silent.getsockname()[1]}/0"})
        signer = TwilioSigner(stuck.test_client())
        signer.post("/ivr/voice", incoming())
        started = time.monotonic()
        root = parse(signer.post("/ivr/menu?attempt=1", incoming(Digits="2")))
        assert time.monotonic() - started < 10
        assert "leave your name, number and message" in spoken(root)
    finally:
        stop.set()
        for conn in held:
            conn.close()
        silent.close()


def test_an_absurd_sequence_number_does_not_lose_the_hang_up(app, twilio, agent_on_duty):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu?attempt=1", incoming(Digits="2"))
    twilio.post("/ivr/status", incoming(CallStatus="completed", SequenceNumber="3000000000",
                                        CallDuration="99999999999999999999"))
    with app.app_context():
        call = db.session.scalar(select(Call))
        assert call.state == "abandoned"
        assert len(app.call_queue) == 0


def test_a_status_callback_the_database_refused_is_kept_for_replay(app, world):
    import json

    from app import create_app
    from callcenter.kept import KeptWebhooks
    down = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/gone"})
    response = TwilioSigner(down.test_client()).post(
        "/ivr/status", incoming(CallStatus="completed", CallDuration="30", SequenceNumber="2"))
    assert response.status_code == 204
    kept = [json.loads(raw) for raw in app.redis.lrange(KeptWebhooks.key, 0, -1)]
    assert [(k["kind"], k["fields"]["CallSid"], k["fields"]["CallStatus"], k["fields"]["CallDuration"])
            for k in kept] == [("status", SID, "completed", "30")]


def test_a_hang_up_from_a_call_whose_first_webhook_failed_still_gets_a_callback(app, twilio, world):
    twilio.post("/ivr/status", incoming(CallStatus="completed", CallDuration="12", SequenceNumber="1"))
    with app.app_context():
        call = db.session.scalar(select(Call))
        assert (call.call_sid, call.state) == (SID, "abandoned")
        assert db.session.scalar(select(CallbackTask.number)) == PATIENT


def test_a_practice_full_to_its_own_capacity_sends_the_next_caller_to_a_message(app, twilio, agent_on_duty, world):
    with app.app_context():
        db.session.get(Practice, world["maple"]).queue_capacity = 1
        db.session.commit()
    twilio.post("/ivr/voice", incoming(sid="CA" + "1" * 32))
    assert parse(twilio.post("/ivr/menu?attempt=1", incoming(sid="CA" + "1" * 32, Digits="2"))).find("Enqueue") \
        is not None
    twilio.post("/ivr/voice", incoming(sid="CA" + "2" * 32))
    second = parse(twilio.post("/ivr/menu?attempt=1", incoming(sid="CA" + "2" * 32, Digits="2")))
    assert second.find("Enqueue") is None
    assert "All of our staff are busy helping other callers." in spoken(second)
    assert second.find("Record") is not None


def test_a_practice_that_may_hold_thousands_is_spread_over_twilios_queues(app, twilio, agent_on_duty, world):
    app.call_queue.capacity = 3000  # Twilio's queues hold 1,000 each
    names = set()
    for n in range(8):
        sid = f"CA{n:032d}"
        twilio.post("/ivr/voice", incoming(sid=sid))
        names.add(parse(twilio.post("/ivr/menu?attempt=1", incoming(sid=sid, Digits="2"))).find("Enqueue").text)
    assert names == {f"practice-{world['maple']}-{k}" for k in range(4)}  # 3,000 over four queues of 800 or fewer
