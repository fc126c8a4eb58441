"""The patient's paths beyond the queue: speech, Spanish, hours, overflow, on-call, voicemail, callbacks."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callcenter import calls
from callcenter.extensions import db
from callcenter.models import Call, CallbackTask, CallEvent, Message, OnCallPage, Practice, User
from ops.jobs import send_callback_sms
from tests.support import MAPLE_NUMBER, ON_CALL_NUMBER, PATIENT, SID, incoming
from tests.twiml_helpers import parse, spoken, verbs


def _call(app) -> Call:
    return db.session.scalar(select(Call).where(Call.call_sid == SID))


def _menu(twilio, **fields):
    twilio.post("/ivr/voice", incoming())
    return parse(twilio.post("/ivr/menu?attempt=1", incoming(**fields)))


def test_it_understands_a_spoken_choice(app, twilio, agent_on_duty):
    root = _menu(twilio, SpeechResult="I need a refill of my blood pressure pills", Confidence="0.9")
    assert root.find("Enqueue") is not None
    with app.app_context():
        call = _call(app)
        assert call.reason == "refill"
        chose = [e for e in call.events if e.kind == "chose_option"][0]
        assert chose.data == {"reason": "refill", "by": "speech"}


def test_urgent_symptom_words_repeat_the_advisory_and_route_as_urgent(app, twilio, agent_on_duty):
    root = _menu(twilio, SpeechResult="my husband has chest pain and can't breathe", Confidence="0.8")
    said = spoken(root)
    assert "hang up now and dial 9 1 1" in said
    assert said.index("dial 9 1 1") < said.index("number 1 in line")
    with app.app_context():
        call = _call(app)
        assert (call.reason, call.priority, call.emergency_words) == ("urgent", 1, True)
        detected = [e.data for e in call.events if e.kind == "emergency_words"]
        assert detected == [{"phrases": ["chest pain", "can't breathe"]}]
        # What the caller said is not kept in the ledger beyond the matched phrases.
        assert "husband" not in str([e.data for e in call.events])


def test_a_caller_can_choose_spanish_and_hear_everything_in_spanish(app, twilio, agent_on_duty):
    root = _menu(twilio, Digits="9")
    assert "Gracias por llamar a Maple Street Family Medicine." in spoken(root)
    says = root.iter("Say")
    assert {(s.get("voice"), s.get("language")) for s in says} == {("Polly.Lupe", "es-US")}
    assert root.find("Gather").get("language") == "es-US"
    queued = parse(twilio.post("/ivr/menu?attempt=1", incoming(Digits="2")))
    assert "Usted es el número 1 en la fila" in spoken(queued)
    spanish_speech = parse(twilio.post("/ivr/wait", incoming(QueuePosition="1")))
    assert "sigue siendo el número 1" in spoken(spanish_speech)
    with app.app_context():
        assert _call(app).language == "es"


def test_a_practice_can_leave_options_out_of_its_menu(app, twilio, agent_on_duty, world):
    with app.app_context():
        db.session.get(Practice, world["maple"]).menu_options = ["urgent", "message", "operator"]
        db.session.commit()
    twilio.post("/ivr/voice", incoming())
    root = parse(twilio.post("/ivr/voice", incoming()))
    assert "billing" not in spoken(root)
    assert "refills" not in spoken(root)
    again = parse(twilio.post("/ivr/menu?attempt=1", incoming(Digits="5")))
    assert "not one of the choices" in spoken(again)


def test_after_hours_a_routine_caller_leaves_a_message(app, twilio, agent_on_duty, maple_closed):
    root = _menu(twilio, Digits="2")
    assert "The office is closed right now." in spoken(root)
    record = root.find("Record")
    assert record.get("action") == "/ivr/voicemail"
    assert record.get("transcribeCallback") == "/ivr/transcription"
    assert root.find("Enqueue") is None
    with app.app_context():
        assert _call(app).after_hours is True


def test_after_hours_an_urgent_caller_is_put_through_to_on_call_and_paged(app, twilio, twilio_http, agent_on_duty,
                                                                          maple_closed, on_call):
    root = _menu(twilio, Digits="1")
    assert "connect you to the on-call clinician" in spoken(root)
    dial = root.find("Dial")
    assert dial.get("action").startswith("/ivr/on-call-done/")
    assert dial.find("Number").text == ON_CALL_NUMBER
    sms = [r for r in twilio_http.requests if r["url"].endswith("/Messages.json")]
    assert len(sms) == 1
    assert sms[0]["data"]["To"] == ON_CALL_NUMBER
    assert sms[0]["data"]["From"] == MAPLE_NUMBER
    assert "Maple Street Family Medicine: urgent patient call" in sms[0]["data"]["Body"]
    with app.app_context():
        page = db.session.scalar(select(OnCallPage))
        assert (page.status, page.to_number) == ("sent", ON_CALL_NUMBER)
        assert _call(app).state == "on_call"
    number = dial.find("Number")
    leg = {"CallSid": "CA" + "e" * 32, "ParentCallSid": SID, "From": MAPLE_NUMBER, "To": ON_CALL_NUMBER,
           "AccountSid": incoming()["AccountSid"], "Direction": "outbound-dial"}
    whisper = parse(twilio.post(number.get("url"), leg))  # the clinician's phone answered: press 1 first
    assert "Press 1 to speak to them." in spoken(whisper)
    taken = parse(twilio.post(whisper.find("Gather").get("action"), {**leg, "Digits": "1"}))
    assert verbs(taken) == []  # the whisper runs out and Twilio puts the patient through
    done = parse(twilio.post(dial.get("action"), incoming(DialCallStatus="completed", DialCallDuration="240")))
    assert verbs(done) == ["Say", "Hangup"]
    with app.app_context():
        assert _call(app).outcome == "oncall"


def test_an_unanswered_on_call_clinician_leaves_the_caller_an_urgent_voicemail(app, twilio, agent_on_duty, maple_closed,
                                                                                on_call):
    dial = _menu(twilio, Digits="1").find("Dial")
    root = parse(twilio.post(dial.get("action"), incoming(DialCallStatus="no-answer")))
    assert "on-call clinician has been paged" in spoken(root)
    assert root.find("Record") is not None


def test_with_nobody_on_call_an_urgent_caller_leaves_an_urgent_message(app, twilio, agent_on_duty, maple_closed):
    root = _menu(twilio, Digits="1")
    assert root.find("Dial") is None
    assert root.find("Record") is not None
    # Nobody was paged, so nobody is said to have been; the caller hears what is so, and 911 first.
    assert "has been paged" not in spoken(root)
    assert "We could not reach the on-call clinician. If this is an emergency, hang up and dial 9 1 1." in spoken(root)
    with app.app_context():
        assert db.session.scalar(select(OnCallPage.status)) == "no_one_on_call"

    thanks = parse(twilio.post("/ivr/voicemail", incoming(RecordingUrl="https://api.twilio.com/rec/RE1",
                                                           RecordingSid="RE1", RecordingDuration="20")))
    assert "Your urgent message has been recorded for our staff." in spoken(thanks)
    assert "clinician" not in spoken(thanks)


def test_a_page_that_could_not_be_sent_is_not_called_paged(app, twilio, twilio_http, agent_on_duty, maple_closed,
                                                           on_call):
    twilio_http.fail_with = 400  # Twilio refuses the SMS to the clinician
    dial = _menu(twilio, Digits="1").find("Dial")
    twilio_http.fail_with = None
    assert dial.find("Number").text == ON_CALL_NUMBER  # they are still dialled
    with app.app_context():
        assert db.session.scalar(select(OnCallPage.status)) == "failed"

    root = parse(twilio.post(dial.get("action"), incoming(DialCallStatus="no-answer")))

    assert "has been paged" not in spoken(root)
    assert "We could not reach the on-call clinician." in spoken(root)
    thanks = parse(twilio.post("/ivr/voicemail", incoming(RecordingUrl="https://api.twilio.com/rec/RE2",
                                                           RecordingSid="RE2", RecordingDuration="20")))
    assert "recorded for our staff" in spoken(thanks)


def test_after_a_page_went_out_the_urgent_voicemail_says_so_and_no_more(app, twilio, agent_on_duty, maple_closed,
                                                                       on_call):
    dial = _menu(twilio, Digits="1").find("Dial")
    parse(twilio.post(dial.get("action"), incoming(DialCallStatus="no-answer")))
    thanks = parse(twilio.post("/ivr/voicemail", incoming(RecordingUrl="https://api.twilio.com/rec/RE3",
                                                           RecordingSid="RE3", RecordingDuration="20")))
    said = spoken(thanks)
    assert "the on-call clinician has been paged with your number" in said
    assert "has your message" not in said  # the voicemail itself is not sent to them


def test_with_no_agent_logged_in_callers_are_not_left_on_hold(app, twilio, world):
    root = _menu(twilio, Digits="3")
    assert "All of our staff are busy" in spoken(root)
    assert root.find("Enqueue") is None
    assert root.find("Record") is not None


def test_a_full_queue_overflows_to_the_message_path(app, twilio, world, agent_on_duty):
    app.call_queue.capacity = 1
    twilio.post("/ivr/voice", incoming(sid="CA" + "1" * 32))
    first = parse(twilio.post("/ivr/menu?attempt=1", incoming(sid="CA" + "1" * 32, Digits="2")))
    assert first.find("Enqueue") is not None
    second = _menu(twilio, Digits="2")
    assert second.find("Enqueue") is None
    assert second.find("Record") is not None
    with app.app_context():
        assert _call(app).state == "ivr"  # never queued; the voicemail gives it its outcome


def test_a_voicemail_becomes_a_message_needing_review_and_gets_its_transcription(app, twilio, world):
    _menu(twilio, Digits="2")  # nobody on duty: voicemail
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "1" * 32
    root = parse(twilio.post("/ivr/voicemail", incoming(RecordingUrl=url, RecordingSid="RE" + "1" * 32,
                                                        RecordingDuration="21")))
    assert "Your message has been recorded" in spoken(root)
    twilio.post("/ivr/voicemail", incoming(RecordingUrl=url, RecordingSid="RE" + "1" * 32, RecordingDuration="21"))
    twilio.post("/ivr/transcription", incoming(RecordingUrl=url, TranscriptionText="Please call me about my labs",
                                               TranscriptionStatus="completed", TranscriptionSid="TR" + "1" * 32))
    with app.app_context():
        messages = db.session.scalars(select(Message)).all()
        assert len(messages) == 1
        message = messages[0]
        assert (message.kind, message.needs_review, message.recording_url) == ("voicemail", True, url)
        assert message.transcription == "Please call me about my labs"
        assert _call(app).state == "voicemail"


def _hold(app, twilio, waited_seconds: int):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu?attempt=1", incoming(Digits="2"))
    with app.app_context():
        call = _call(app)
        call.queued_at = datetime.now(UTC) - timedelta(seconds=waited_seconds)
        db.session.commit()
    return parse(twilio.post("/ivr/wait", incoming(QueuePosition="1", QueueTime=str(waited_seconds))))


def test_after_two_minutes_the_caller_is_offered_to_keep_their_place(app, twilio, agent_on_duty):
    root = _hold(app, twilio, 130)
    gather = root.find("Gather")
    assert gather.get("action") == "/ivr/keep-place"
    assert "keep your place in line" in "".join(gather.itertext())


def test_a_caller_past_the_practice_maximum_wait_leaves_the_queue_for_a_message(app, twilio, agent_on_duty):
    root = _hold(app, twilio, 601)
    assert verbs(root) == ["Leave"]
    exit_doc = parse(twilio.post("/ivr/queue-exit", incoming(QueueResult="leave", QueueTime="601")))
    assert "sorry for the long wait" in spoken(exit_doc)
    assert exit_doc.find("Record") is not None
    assert len(app.call_queue) == 0


def test_an_urgent_caller_past_the_maximum_wait_goes_to_on_call(app, twilio, agent_on_duty, on_call):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu?attempt=1", incoming(Digits="1"))
    exit_doc = parse(twilio.post("/ivr/queue-exit", incoming(QueueResult="leave")))
    assert exit_doc.find("Dial").find("Number").text == ON_CALL_NUMBER


def test_keep_my_place_at_the_caller_id_keeps_the_place_and_is_not_abandoned(app, twilio, agent_on_duty):
    _hold(app, twilio, 130)
    offer = parse(twilio.post("/ivr/keep-place", incoming(Digits="1")))
    assert "ending in 0 1 2 3" in spoken(offer)
    done = parse(twilio.post("/ivr/keep-place/choice", incoming(Digits="1")))
    assert "we will call you back when it is your turn" in spoken(done)
    assert verbs(done)[-1] == "Hangup"
    twilio.post("/ivr/status", incoming(CallStatus="completed", CallDuration="150", SequenceNumber="2"))
    with app.app_context():
        call = _call(app)
        assert call.state == "callback_waiting"
        assert app.call_queue.position(call.id) == 1
        task = db.session.scalar(select(CallbackTask))
        assert (task.number, task.reason, task.keeps_place) == (PATIENT, "keep_place", True)


def test_keep_my_place_at_another_number_reads_it_back_first(app, twilio, agent_on_duty):
    _hold(app, twilio, 130)
    twilio.post("/ivr/keep-place", incoming(Digits="1"))
    enter = parse(twilio.post("/ivr/keep-place/choice", incoming(Digits="2")))
    assert enter.find("Gather").get("finishOnKey") == "#"
    bad = parse(twilio.post("/ivr/keep-place/number", incoming(Digits="123")))
    assert "does not look like a phone number" in spoken(bad)
    readback = parse(twilio.post("/ivr/keep-place/number", incoming(Digits="6175550188")))
    assert "You entered 6 1 7 5 5 5 0 1 8 8" in spoken(readback)
    parse(twilio.post("/ivr/keep-place/confirm", incoming(Digits="1")))
    with app.app_context():
        assert db.session.scalar(select(CallbackTask.number)) == "+16175550188"


def test_taking_a_kept_place_calls_the_patient_back_through_twilio(app, twilio, twilio_http, world, agent_on_duty):
    _hold(app, twilio, 130)
    twilio.post("/ivr/keep-place", incoming(Digits="1"))
    twilio.post("/ivr/keep-place/choice", incoming(Digits="1"))
    with app.app_context():
        call = _call(app)
        alice = db.session.get(User, world["alice"])
        calls.take(db.session, app.call_queue, app.presence, app.gateway, call.id, alice, f"https://x.test/ivr/connect/{call.id}")
        task = db.session.scalar(select(CallbackTask))
        assert task.status == "in_progress" and task.outbound_call_sid.startswith("CA")
        call_id, outbound_sid = call.id, task.outbound_call_sid
    created = [r for r in twilio_http.requests if r["url"].endswith("/Calls.json")]
    assert len(created) == 1
    sent = created[0]["data"]
    assert (sent["To"], sent["From"], sent["Url"]) == (PATIENT, MAPLE_NUMBER, f"https://x.test/ivr/connect/{call_id}")
    assert sent["StatusCallback"] == "https://x.test/ivr/status"
    # The patient answers: Twilio fetches the connect URL for the new leg.
    answered = parse(twilio.post(f"/ivr/connect/{call_id}", incoming(sid=outbound_sid, Direction="outbound-api")))
    assert "returning your call" in spoken(answered)
    client = answered.find("Dial").find("Client")
    assert client.find("Identity").text == f"agent-{world['alice']}"
    assert client.find("Parameter").attrib == {"name": "call_id", "value": str(call_id)}


def test_an_abandoned_caller_gets_an_sms_saying_when_we_will_call_back(app, twilio, twilio_http, agent_on_duty):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu?attempt=1", incoming(Digits="2"))
    twilio.post("/ivr/status", incoming(CallStatus="completed", CallDuration="40", SequenceNumber="3"))
    job = app.task_queue.fetch_job("send_callback_sms-1") or app.task_queue.jobs[0]
    with app.app_context():
        task_id = db.session.scalar(select(CallbackTask.id))
        assert job.args == (task_id,)
        send_callback_sms(task_id)
        send_callback_sms(task_id)  # a retried job sends nothing twice
    sms = [r for r in twilio_http.requests if r["url"].endswith("/Messages.json")]
    assert len(sms) == 1
    assert sms[0]["data"]["To"] == PATIENT
    body = sms[0]["data"]["Body"]
    assert body.startswith("We're sorry we missed your call. We will call you back by")
    assert "Maple" not in body  # the lock screen does not say which practice
    assert PATIENT not in body


def test_the_hold_loop_puts_a_caller_back_after_redis_lost_the_queue(app, twilio, agent_on_duty):
    _hold(app, twilio, 10)
    app.redis.flushdb()
    root = parse(twilio.post("/ivr/wait", incoming(QueuePosition="1")))
    assert "still number 1 in line" in spoken(root)
    with app.app_context():
        assert app.call_queue.position(_call(app).id) == 1


def test_a_transcription_that_arrives_before_the_recording_is_not_lost(app, twilio, world):
    _menu(twilio, Digits="2")
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "2" * 32
    twilio.post("/ivr/transcription", incoming(RecordingUrl=url, RecordingSid="RE" + "2" * 32,
                                               TranscriptionText="Call me back", TranscriptionStatus="completed"))
    twilio.post("/ivr/voicemail", incoming(RecordingUrl=url, RecordingSid="RE" + "2" * 32, RecordingDuration="9"))
    with app.app_context():
        messages = db.session.scalars(select(Message)).all()
        assert [(m.transcription, m.recording_url) for m in messages] == [("Call me back", url)]


def _kept_place_and_taken(app, twilio, world):
    _hold(app, twilio, 130)
    twilio.post("/ivr/keep-place", incoming(Digits="1"))
    twilio.post("/ivr/keep-place/choice", incoming(Digits="1"))
    with app.app_context():
        call = _call(app)
        alice = db.session.get(User, world["alice"])
        calls.take(db.session, app.call_queue, app.presence, app.gateway, call.id, alice, f"https://x.test/ivr/connect/{call.id}")
        return call.id, db.session.scalar(select(CallbackTask)).outbound_call_sid


def test_the_reconciler_keeps_callbacks_in_the_queue(app, twilio, agent_on_duty):
    from ops.jobs import reconcile

    _hold(app, twilio, 130)
    twilio.post("/ivr/keep-place", incoming(Digits="1"))
    twilio.post("/ivr/keep-place/choice", incoming(Digits="1"))
    with app.app_context():
        assert reconcile()["removed"] == 0
        assert app.call_queue.position(_call(app).id) == 1


def test_when_the_agent_misses_a_called_back_patient_the_next_take_moves_our_call(app, twilio, twilio_http,
                                                                                  world, agent_on_duty):
    call_id, outbound = _kept_place_and_taken(app, twilio, world)
    twilio.post(f"/ivr/connect/{call_id}", incoming(sid=outbound))
    held = parse(twilio.post(f"/ivr/dial-done/{call_id}", incoming(sid=outbound, DialCallStatus="no-answer")))
    assert held.find("Enqueue") is not None  # the patient, on our call, holds again
    with app.app_context():
        bob = db.session.get(User, world["bob"])
        calls.take(db.session, app.call_queue, app.presence, app.gateway, call_id, bob, f"https://x.test/ivr/connect/{call_id}")
    redirect = twilio_http.requests[-1]
    assert redirect["url"].endswith(f"/Calls/{outbound}.json")
    assert redirect["data"]["Url"] == f"https://x.test/ivr/connect/{call_id}"


def test_a_called_back_patient_who_hangs_up_while_holding_again_is_abandoned(app, twilio, world, agent_on_duty):
    call_id, outbound = _kept_place_and_taken(app, twilio, world)
    twilio.post(f"/ivr/connect/{call_id}", incoming(sid=outbound))
    twilio.post(f"/ivr/dial-done/{call_id}", incoming(sid=outbound, DialCallStatus="no-answer"))
    twilio.post("/ivr/status", incoming(sid=outbound, CallStatus="completed", CallDuration="50", SequenceNumber="4"))
    with app.app_context():
        call = db.session.get(Call, call_id)
        assert call.state == "abandoned"
        assert db.session.scalar(select(CallbackTask.status)) == "open"
    assert len(app.call_queue) == 0


def test_a_wrap_up_before_the_patient_was_reached_leaves_the_callback_open(app, twilio, world, agent_on_duty):
    call_id, outbound = _kept_place_and_taken(app, twilio, world)
    twilio.post("/ivr/status", incoming(sid=outbound, CallStatus="no-answer", SequenceNumber="2"))
    with app.app_context():
        call = db.session.get(Call, call_id)
        calls.wrap_up(db.session, call, db.session.get(User, world["alice"]), "other", "No answer at the number.")
        db.session.commit()
        assert db.session.scalar(select(CallbackTask.status)) == "open"
        assert call.outcome is None  # owned once someone completes the callback


def test_with_nobody_on_call_an_urgent_caller_is_put_through_to_the_practices_emergency_line(app, twilio, cli,
                                                                                           agent_on_duty,
                                                                                           maple_closed, world):
    assert cli.invoke(args=["practice", "configure", "--practice", str(world["maple"]),
                            "--emergency-number", "+14155550142"]).exit_code == 0
    root = _menu(twilio, Digits="1")
    said = spoken(root)
    assert "No clinician is on call right now. Please hold while we connect you to the practice's emergency line." \
        in said and "on-call clinician" not in said.split("No clinician")[1]
    dial = root.find("Dial")
    assert dial.find("Number").text == "+14155550142"
    assert dial.find("Number").get("url").startswith("/ivr/on-call-whisper/")  # a person presses 1 first
    with app.app_context():
        fallback = db.session.scalar(select(CallEvent).where(CallEvent.kind == "gap_fallback"))
        assert fallback.data == {"to": "practice_emergency_line"}
        assert db.session.scalar(select(OnCallPage.status)) == "no_one_on_call"  # the supervisors' at once
