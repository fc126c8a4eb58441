"""A practice that records its patients' conversations: the caller is told before the agent is put through,
Twilio records the bridge, the service takes its own copy and deletes Twilio's, the practice's staff play it
in the portal (audited), and the copy goes when the practice's retention period is over. A recording
callback the database cannot take is kept and replayed; a copy that cannot be taken is tried again."""

from __future__ import annotations

import io
import wave
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy import func, select

from callcenter import recordings
from callcenter.extensions import db
from callcenter.gateway import GatewayError
from callcenter.models import AuditEntry, Call, CallEvent, CallRecording, Practice
from ivr import twiml
from ops.jobs import COPIES_SLOT, RETENTION_SLOT, reconcile, take_recording_copy
from tests.support import (
    SID,
    TwilioSigner,
    caller_talking_to_alice,
    console_for,
    eventually,
    log_in,
    waiting_call,
    with_parts_down,
)

RECORDING_SID = "RE" + "4" * 32


def _recording_callback(app, **extra) -> dict:
    base = app.config["TWILIO_API_BASE"].rstrip("/")
    return {"AccountSid": app.config["TWILIO_ACCOUNT_SID"], "CallSid": SID, "RecordingSid": RECORDING_SID,
            "RecordingUrl": f"{base}/2010-04-01/Accounts/{app.config['TWILIO_ACCOUNT_SID']}/Recordings/{RECORDING_SID}",
            "RecordingStatus": "completed", "RecordingDuration": "74", "RecordingChannels": "2",
            "RecordingSource": "DialVerb", **extra}


def _records(cli, practice_id: int, yes: bool = True) -> None:
    result = cli.invoke(args=["practice", "configure", "--practice", str(practice_id),
                              "--record-calls", "yes" if yes else "no"])
    assert result.exit_code == 0, result.output


def test_the_connect_twiml_announces_the_recording_and_records_the_bridge_only_when_the_practice_records():
    for document in (twiml.connect_to_agent("en", 7, "agent-3", recorded=True),
                     twiml.connect_to_agent_phone("en", 7, "+14155550199", recorded=True)):
        root = ElementTree.fromstring(document)
        said = [say.text for say in root.iter("Say")]
        assert said == ["Connecting you now.", "This call will be recorded."]
        dial = root.find("Dial")
        assert list(root).index(dial) == 2  # told before the bridge (and so before the recording) starts
        assert dial.get("record") == "record-from-answer-dual"
        assert dial.get("recordingStatusCallback") == "/ivr/call-recording"
        assert dial.get("recordingStatusCallbackEvent") == "completed"
    spanish = ElementTree.fromstring(twiml.connect_to_agent("es", 7, "agent-3", recorded=True))
    assert "Esta llamada será grabada." in [say.text for say in spanish.iter("Say")]
    for document in (twiml.connect_to_agent("en", 7, "agent-3"), twiml.connect_to_agent_phone("en", 7, "+14155550199")):
        root = ElementTree.fromstring(document)
        assert "recorded" not in document and root.find("Dial").get("record") is None


def test_a_recorded_conversation_is_copied_from_twilio_deleted_there_and_played_by_the_practice_only(
        phone_system, world, agent_on_duty, cli):
    from ops.worker import run_worker

    app = phone_system.app
    _records(cli, world["maple"])
    caller, _alice, _device, call_id = caller_talking_to_alice(phone_system, world)
    heard = caller.transcript()
    told = heard.index("This call will be recorded.")
    assert told < heard.index(f"[connected to client:agent-{world['alice']}]")
    caller.hang_up()

    def written_down():
        with app.app_context():
            return db.session.scalar(select(CallRecording).where(CallRecording.call_id == call_id))

    recording = eventually(written_down, timeout=15)
    assert (recording.status, recording.channels, recording.practice_id) == ("at_twilio", 2, world["maple"])
    assert recording.duration_seconds >= 1
    with app.app_context():
        call_sid = db.session.get(Call, call_id).call_sid
    assert [r["sid"] for r in app.gateway.recordings(call_sid)] == [recording.recording_sid]  # Twilio holds it
    assert app.task_queue.fetch_job(f"take_recording_copy-{recording.id}") is not None

    run_worker(app, burst=True)  # the copy job, through the gateway to the emulator

    with app.app_context():
        kept = db.session.get(CallRecording, recording.id)
        assert kept.status == "kept" and kept.deleted_at_twilio_at is not None
        with wave.open(io.BytesIO(kept.audio)) as audio:
            assert audio.getnchannels() == 2  # the patient on one channel, the agent on the other
            assert audio.getnframes() >= 8000 * recording.duration_seconds
        kinds = db.session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call_id)).all()
        assert {"call_recorded", "recording_kept", "recording_deleted_at_twilio"} <= set(kinds)
    assert app.gateway.recordings(call_sid) == []  # gone at Twilio: the service's copy is the only one

    desk, harbor, agent = app.test_client(), app.test_client(), app.test_client()
    for browser, email in ((desk, "desk@maple.test"), (harbor, "desk@harbor.test"), (agent, "alice@example.test")):
        assert log_in(browser, email).status_code == 302
    page = desk.get(f"/portal/calls/{call_id}")
    assert f'/portal/calls/{call_id}/recordings/{recording.id}' in page.get_data(as_text=True)
    played = desk.get(f"/portal/calls/{call_id}/recordings/{recording.id}")
    assert played.status_code == 200 and played.data[:4] == b"RIFF" and played.mimetype == "audio/x-wav"
    assert played.headers["Cache-Control"] == "no-store"
    assert harbor.get(f"/portal/calls/{call_id}/recordings/{recording.id}").status_code == 404
    assert agent.get(f"/portal/calls/{call_id}/recordings/{recording.id}").status_code == 403
    with app.app_context():
        audited = db.session.execute(select(AuditEntry.user_id, AuditEntry.action)
                                     .where(AuditEntry.object_type == "call_recording")).all()
        assert sorted(audited) == sorted([(world["maple_staff"], "play"), (world["harbor_staff"], "refused")])


def test_a_practice_that_does_not_record_has_nothing_recorded(phone_system, world, agent_on_duty):
    app = phone_system.app
    caller, _alice, _device, call_id = caller_talking_to_alice(phone_system, world)
    caller.hang_up()

    def ended():
        with app.app_context():
            return db.session.get(Call, call_id).ended_at is not None

    eventually(ended, timeout=15)
    assert not any("recorded" in line for line in caller.transcript())
    with app.app_context():
        call_sid = db.session.get(Call, call_id).call_sid
    assert app.gateway.recordings(call_sid) == []
    with app.app_context():
        assert db.session.scalar(select(func.count(CallRecording.id))) == 0


def test_a_recording_callback_sent_twice_and_with_a_failure_is_written_down_once(app, world, twilio):
    waiting_call(app)
    for _ in range(2):
        assert twilio.post("/ivr/call-recording", _recording_callback(app)).status_code == 204
    failed = _recording_callback(app, RecordingSid="RE" + "5" * 32, RecordingStatus="absent")
    assert twilio.post("/ivr/call-recording", failed).status_code == 204
    with app.app_context():
        [recording] = db.session.scalars(select(CallRecording)).all()
        assert (recording.recording_sid, recording.duration_seconds, recording.status) == (RECORDING_SID, 74,
                                                                                            "at_twilio")
        kinds = db.session.scalars(select(CallEvent.kind)).all()
        assert kinds.count("call_recorded") == 1 and kinds.count("recording_failed") == 1
    assert app.task_queue.fetch_job(f"take_recording_copy-{recording.id}") is not None


def test_a_recording_callback_the_database_could_not_take_is_kept_and_replayed(app, world):
    waiting_call(app)
    down = with_parts_down(app, database_down=True)
    answer = TwilioSigner(down.test_client()).post("/ivr/call-recording", _recording_callback(app))
    assert answer.status_code == 204 and len(app.kept) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(CallRecording.id))) == 0
        assert reconcile()["replayed"] == 1
        recording = db.session.scalar(select(CallRecording))
        assert (recording.recording_sid, recording.status) == (RECORDING_SID, "at_twilio")
    assert app.task_queue.fetch_job(f"take_recording_copy-{recording.id}") is not None


def _recorded_call_with_twilio_down(app, twilio, **callback) -> tuple:
    """A recording written down by the service whose Twilio (its REST host) refuses connections."""
    waiting_call(app)
    twilio_down = with_parts_down(app, twilio_down=True)
    assert twilio.post("/ivr/call-recording", _recording_callback(twilio_down, **callback)).status_code == 204
    with app.app_context():
        return twilio_down, db.session.scalar(select(CallRecording.id))


def test_a_copy_twilio_would_not_give_stays_at_twilio_and_is_tried_again_later(app, world, twilio, twilio_http):
    twilio_down, recording_id = _recorded_call_with_twilio_down(app, twilio)
    with twilio_down.app_context():
        with pytest.raises(GatewayError):  # the job fails, so that RQ retries it
            take_recording_copy(recording_id)
        recording = db.session.get(CallRecording, recording_id)
        assert recording.status == "at_twilio" and recording.audio is None and recording.deleted_at_twilio_at is None
    with app.app_context():
        assert reconcile()["recording_copies_relaunched"] == []  # the job's own retries come first
        recording = db.session.get(CallRecording, recording_id)
        recording.created_at = datetime.now(UTC) - recordings.COPY_OWED_AFTER - timedelta(seconds=1)
        db.session.commit()
        app.redis.delete(COPIES_SLOT)
        assert reconcile()["recording_copies_relaunched"] == [recording_id]
        assert reconcile()["recording_copies_relaunched"] == []  # once in ten minutes, not every round
    assert app.task_queue.fetch_job(f"take_recording_copy-{recording_id}-again") is not None
    assert not [r for r in twilio_http.requests if r["method"] == "DELETE"]  # Twilio's copy was never deleted


def test_an_address_that_is_not_this_accounts_recording_is_never_fetched(app, world, twilio):
    twilio_down, recording_id = _recorded_call_with_twilio_down(
        app, twilio, RecordingUrl="http://evil.example/2010-04-01/Recordings/" + RECORDING_SID)
    with twilio_down.app_context():
        # Not even tried: a fetch would have failed on the refused connection and raised.
        assert take_recording_copy(recording_id) == "failed"
        assert db.session.scalar(select(CallEvent.kind).where(CallEvent.kind == "recording_refused"))


def test_copies_past_the_practice_retention_period_are_removed_and_the_portal_says_so(app, world, client, cli):
    waiting_call(app)
    with app.app_context():
        call = db.session.scalar(select(Call))
        old = CallRecording(practice_id=world["maple"], call_id=call.id, recording_sid="RE" + "6" * 32, status="kept",
                            audio=b"RIFF....", content_type="audio/x-wav",
                            created_at=datetime.now(UTC) - timedelta(days=91))
        recent = CallRecording(practice_id=world["maple"], call_id=call.id, recording_sid="RE" + "7" * 32,
                               status="kept", audio=b"RIFF....", created_at=datetime.now(UTC) - timedelta(days=30))
        db.session.add_all([old, recent])
        db.session.commit()
        old_id, recent_id, call_id = old.id, recent.id, call.id
        assert reconcile()["conversations_removed"] == [old_id]
        removed = db.session.get(CallRecording, old_id)
        assert (removed.status, removed.audio) == ("removed", None) and removed.removed_at is not None
        assert db.session.get(CallRecording, recent_id).audio == b"RIFF...."
        assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.object_type == "call_recording",
                                                                 AuditEntry.object_id == old_id)) == "removed"
    assert log_in(client, "desk@maple.test").status_code == 302
    assert "retention period was over" in client.get(f"/portal/calls/{call_id}").get_data(as_text=True)
    assert client.get(f"/portal/calls/{call_id}/recordings/{old_id}").status_code == 404
    assert client.get(f"/portal/calls/{call_id}/recordings/{recent_id}").status_code == 200

    assert cli.invoke(args=["practice", "configure", "--practice", str(world["maple"]),
                            "--recording-retention-days", "0"]).exit_code == 0
    with app.app_context():
        db.session.get(CallRecording, recent_id).created_at = datetime.now(UTC) - timedelta(days=4000)
        db.session.commit()
        app.redis.delete(RETENTION_SLOT)
        assert reconcile()["conversations_removed"] == []  # 0: this practice keeps them
        assert db.session.get(Practice, world["maple"]).recording_retention_days is None


def test_a_copy_twilio_never_gave_in_two_days_is_given_up_and_raised(app, world, twilio):
    from tests.support import received

    waiting_call(app)
    assert twilio.post("/ivr/call-recording", _recording_callback(app)).status_code == 204
    with app.app_context():
        recording = db.session.scalar(select(CallRecording))
        recording.created_at = datetime.now(UTC) - recordings.COPY_GIVEN_UP_AFTER - timedelta(minutes=1)
        db.session.commit()
    sam = console_for(app, "sam@example.test")
    with app.app_context():
        reconcile()
        assert db.session.scalar(select(CallRecording.status)) == "failed"
        assert db.session.scalar(select(CallEvent.kind).where(CallEvent.kind == "recording_copy_failed"))
    assert any("could not be copied from Twilio" in n["text"] for n in received(sam, "supervisor_notice"))
