"""The reconciler mends drift between Redis and the ledger, run as the worker runs it."""

from datetime import timedelta

from sqlalchemy import select

from callcenter import calls
from callcenter.extensions import db
from callcenter.models import Call, CallbackTask, Message
from callcenter.queue import CallQueue
from ops.jobs import reconcile
from ops.worker import run_worker
from tests.support import ACCOUNT_SID, PATIENT, incoming, queued_call


def _waiting(app, sid):
    """A caller holding in the queue (nothing committed); returns the call's id."""
    return queued_call(db.session, app.call_queue, sid).id


def test_the_worker_restores_waiting_callers_after_redis_lost_them(app, world):
    with app.app_context():
        ids = [_waiting(app, f"CA{n:032d}") for n in range(3)]
    app.redis.delete(CallQueue.key)
    app.task_queue.enqueue(reconcile)
    run_worker(app, burst=True)
    assert [w.call_id for w in app.call_queue.waiting()] == ids


def test_it_removes_queue_entries_for_calls_that_are_no_longer_waiting(app, world):
    with app.app_context():
        call_id = _waiting(app, "CA" + "e" * 32)
        call = db.session.get(Call, call_id)
        calls.line_ended(db.session, app.call_queue, call, "completed", 4, 30)
        db.session.commit()
        app.call_queue.enqueue(call_id, call.queued_at, 0)  # drift: Redis kept a hung-up caller
        result = reconcile()
    assert result["removed"] == 1
    assert len(app.call_queue) == 0


def test_it_lists_ended_calls_without_an_owned_outcome(app, world):
    with app.app_context():
        call_id = _waiting(app, "CA" + "f" * 32)
        call = db.session.get(Call, call_id)
        call.state = "completed"  # talked to an agent, never wrapped up
        call.ended_at = call.created_at - timedelta(hours=2)
        db.session.commit()
        result = reconcile()
    assert result["without_outcome"] == [call_id]


def test_a_call_whose_agent_connection_never_happened_goes_back_in_line(app, world, agent_on_duty):
    from callcenter.models import User

    with app.app_context():
        call_id = _waiting(app, "CA" + "9" * 32)
        alice = db.session.get(User, world["alice"])
        calls.take(db.session, app.call_queue, app.presence, app.gateway, call_id, alice, "https://x.test/ivr/connect/1")
        taken = db.session.get(Call, call_id).events[-1]
        taken.at = taken.at - timedelta(minutes=5)  # Twilio never fetched the connect URL
        db.session.commit()
        result = reconcile()
        assert result["stuck_connecting"] == [call_id]
        assert db.session.get(Call, call_id).state == "queued"
    assert app.call_queue.position(call_id) == 1


def test_it_retries_the_callback_sms_of_an_abandoned_call(app, world, twilio_http):
    from callcenter.models import CallbackTask

    with app.app_context():
        call = db.session.get(Call, _waiting(app, "CA" + "8" * 32))
        calls.line_ended(db.session, app.call_queue, call, "completed", 2, 20)
        task = db.session.query(CallbackTask).one()
        task.created_at = task.created_at - timedelta(minutes=10)  # the webhook's own SMS job was lost
        db.session.commit()
        assert reconcile()["sms_not_sent"] == [task.id]
    run_worker(app, burst=True)
    sms = [r for r in twilio_http.requests if r["url"].endswith("/Messages.json")]
    assert [r["data"]["To"] for r in sms] == [PATIENT]


def test_a_status_callback_that_failed_is_replayed_by_the_worker(app, world, agent_on_duty):
    with app.app_context():
        call_id = _waiting(app, "CA" + "6" * 32)
    # What the /ivr/status webhook keeps when the database refused it.
    app.kept.keep("status", incoming(sid="CA" + "6" * 32, CallStatus="completed", SequenceNumber="3",
                                     CallDuration="44"))
    with app.app_context():
        result = reconcile()
        assert result["replayed"] == 1
        assert db.session.get(Call, call_id).state == "abandoned"
    assert len(app.call_queue) == 0


def test_a_caller_whose_hang_up_never_arrived_is_found_by_asking_twilio(app, world, twilio_http):
    """Twilio (the recorded transport) says the call completed; the hold loop had gone quiet."""
    with app.app_context():
        call_id = _waiting(app, "CA" + "5" * 32)
        call = db.session.get(Call, call_id)
        call.queued_at = call.queued_at - timedelta(minutes=10)
        db.session.commit()
    twilio_http.status_for_fetch = "completed"
    with app.app_context():
        result = reconcile()
        assert result["gone_while_waiting"] == [call_id]
        assert db.session.get(Call, call_id).state == "abandoned"
    fetched = [r for r in twilio_http.requests if r["method"] == "GET" and "/Calls/CA" in r["url"]]
    assert fetched[0]["url"].endswith(f"/Calls/{'CA' + '5' * 32}.json")


def _age(app, call_id: int, **ago) -> None:
    """The call began (and, if it ended, ended) this long ago."""
    with app.app_context():
        call = db.session.get(Call, call_id)
        call.created_at -= timedelta(**ago)
        if call.ended_at is not None:
            call.ended_at -= timedelta(**ago)
        db.session.commit()


def _asked(twilio_http, path: str) -> list[dict]:
    return [r for r in twilio_http.requests if r["method"] == "GET" and r["url"].endswith(path)]


def test_a_call_left_open_in_any_state_is_ended_as_twilio_says_asked_once_per_ten_minutes(app, world, twilio):
    """Its hang-up never reached us and was never kept: the caller still gets their callback."""
    twilio.post("/ivr/voice", incoming(sid="CA" + "4" * 32))  # in the menu, and then nothing more
    with app.app_context():
        call_id = db.session.scalar(select(Call.id))
    _age(app, call_id, minutes=20)
    twilio_http = app.config["TWILIO_HTTP_CLIENT"]
    twilio_http.status_for_fetch = "completed"  # what Twilio says when asked

    with app.app_context():
        first, second = reconcile(), reconcile()
        call = db.session.get(Call, call_id)
        assert (call.state, call.telephony_status) == ("abandoned", "completed")
        assert db.session.scalar(select(CallbackTask.number).where(CallbackTask.call_id == call_id)) == PATIENT
    assert (first["ended_unseen"], second["ended_unseen"]) == ([call_id], [])
    assert len(_asked(twilio_http, f"/Calls/{'CA' + '4' * 32}.json")) == 1


def test_a_call_still_going_is_asked_about_again_only_after_ten_minutes(app, world, twilio):
    twilio.post("/ivr/voice", incoming(sid="CA" + "3" * 32))
    with app.app_context():
        call_id = db.session.scalar(select(Call.id))
    _age(app, call_id, minutes=20)
    twilio_http = app.config["TWILIO_HTTP_CLIENT"]  # Twilio says the call is in progress

    with app.app_context():
        assert reconcile()["ended_unseen"] == [] and reconcile()["ended_unseen"] == []
        assert db.session.get(Call, call_id).ended_at is None
    assert len(_asked(twilio_http, f"/Calls/{'CA' + '3' * 32}.json")) == 1


def test_a_recording_twilio_holds_for_a_call_without_a_message_becomes_a_voicemail(app, world, twilio, twilio_http):
    """The recording callback was lost (and could not be kept): Twilio's list of the call's recordings has it."""
    sid = "CA" + "2" * 32
    twilio.post("/ivr/voice", incoming(sid=sid))
    twilio.post("/ivr/status", incoming(sid=sid, CallStatus="completed", SequenceNumber="4", CallDuration="61"))
    with app.app_context():
        call_id = db.session.scalar(select(Call.id))
    _age(app, call_id, minutes=5)
    recording = {"sid": "RE" + "5" * 32, "call_sid": sid, "duration": "33", "status": "completed",
                 "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'5' * 32}.json"}
    twilio_http.recordings[sid] = [recording]

    with app.app_context():
        first, second = reconcile(), reconcile()
        [message] = db.session.scalars(select(Message)).all()
        assert (message.kind, message.needs_review, message.call_id) == ("voicemail", True, call_id)
        assert message.recording_url == f"https://api.twilio.com{recording['uri'].removesuffix('.json')}"
        assert message.body == "Voicemail, 33 seconds. Transcription pending."
    assert (first["voicemails_found"], second["voicemails_found"]) == ([call_id], [])
    [listed] = _asked(twilio_http, "/Recordings.json")  # asked once per call
    assert listed["params"]["CallSid"] == sid


def test_a_call_without_a_recording_is_asked_about_once(app, world, twilio, twilio_http):
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/status", incoming(CallStatus="completed", SequenceNumber="4"))
    with app.app_context():
        call_id = db.session.scalar(select(Call.id))
    _age(app, call_id, minutes=5)
    with app.app_context():
        assert reconcile()["voicemails_found"] == [] and reconcile()["voicemails_found"] == []
        assert db.session.scalar(select(Message)) is None
    assert len(_asked(twilio_http, "/Recordings.json")) == 1
