"""Every path through the IVR, walked by a caller on the emulator's softphone over real HTTP.

Each option in each language, in and out of hours, speech, silence, wrong keys, and a hang-up at
each step. What is asserted is what the caller hears and what the ledger then holds.
"""

import time

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from callcenter.extensions import db
from callcenter.models import AuditEntry, Call, CallbackTask, Message, OnCallPage
from tests.support import HARBOR_NUMBER, MAPLE_NUMBER, ON_CALL_NUMBER, PATIENT, eventually, log_in

pytestmark = pytest.mark.slow
OPTIONS = [("1", "urgent"), ("2", "message"), ("3", "appointment"), ("4", "refill"), ("5", "billing"),
           ("0", "operator")]
HEARD = {"en": ("press 1", "in line"), "es": ("oprima 1", "en la fila")}


def _ledger_call(system) -> Call:
    with system.app.app_context():
        return db.session.scalar(select(Call))


def _dial(system, language: str = "en"):
    call = system.phone.dial(PATIENT, MAPLE_NUMBER)
    call.wait_for("press 1")
    if language == "es":
        call.press("9")
        call.wait_for("Gracias por llamar a Maple Street Family Medicine.")
        call.wait_for("oprima 1")
    return call


@pytest.fixture
def system(phone_system, world):
    from emulator import configure

    configure(phone_system.emulator, speed=10.0)
    return phone_system


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("key,reason", OPTIONS)
def test_each_option_in_each_language_reaches_the_queue(system, agent_on_duty, language, key, reason):
    call = _dial(system, language)
    call.press(key)
    call.wait_for(HEARD[language][1])
    stored = _ledger_call(system)
    assert (stored.reason, stored.language, stored.state) == (reason, language, "queued")
    call.hang_up()
    eventually(lambda: _ledger_call(system).state == "abandoned")


def test_a_spoken_choice_is_understood(system, agent_on_duty):
    call = _dial(system)
    call.say("I'd like to make an appointment please")
    call.wait_for("in line")
    assert _ledger_call(system).reason == "appointment"
    call.hang_up()


def test_spoken_emergency_words_repeat_the_advisory_and_queue_as_urgent(system, agent_on_duty):
    call = _dial(system)
    call.say("my mother is having a stroke")
    call.wait_for("hang up now and dial 9 1 1")
    call.wait_for("treating your call as urgent")
    stored = _ledger_call(system)
    assert (stored.reason, stored.emergency_words) == ("urgent", True)
    call.hang_up()


def test_wrong_keys_repeat_the_menu_then_take_a_message(system, agent_on_duty):
    call = _dial(system)
    for _ in range(3):
        call.press("7")
        call.wait_for("not one of the choices")
    call.wait_for("take a message for the office")
    call.wait_for("in line")
    assert _ledger_call(system).reason == "message"
    call.hang_up()


@pytest.mark.parametrize("language", ["en", "es"])
def test_after_hours_a_routine_caller_leaves_a_voicemail(system, language, maple_closed, on_call):
    call = _dial(system, language)
    call.press("4")
    call.wait_for("closed right now" if language == "en" else "cerrada en este momento")
    call.wait_until(lambda s: s.get("awaiting_input") == "record")
    call.say("This is Pat, please refill my lisinopril")
    call.press("#")
    call.wait_for("Your message has been recorded" if language == "en" else "Su mensaje quedó grabado")
    call.wait_for_status("ended")

    def transcribed():
        with system.app.app_context():
            message = db.session.scalar(select(Message))
            return message if message is not None and message.transcription else None

    message = eventually(transcribed)
    assert (message.kind, message.needs_review) == ("voicemail", True)
    assert message.transcription == "This is Pat, please refill my lisinopril"
    assert _ledger_call(system).state == "voicemail"


def test_staff_play_a_voicemail_through_the_app_and_each_playback_is_audited(system, world, maple_closed, on_call):
    call = _dial(system)
    call.press("4")
    call.wait_until(lambda s: s.get("awaiting_input") == "record")
    call.say("This is Pat, please refill my lisinopril")
    call.press("#")
    call.wait_for_status("ended")
    message = eventually(lambda: _message(system))
    agent, desk = system.app.test_client(), system.app.test_client()
    assert log_in(agent, "alice@example.test").status_code == 302
    assert log_in(desk, "desk@maple.test").status_code == 302

    played = agent.get(f"/console/voicemails/{message.id}/recording")
    assert played.status_code == 200 and played.mimetype == "audio/x-wav"
    assert played.data[:4] == b"RIFF" and len(played.data) > 8000  # a second of audio or more, from the emulator
    assert played.headers["Cache-Control"] == "private, no-store"
    assert desk.get(f"/console/voicemails/{message.id}/recording").status_code == 403
    at_the_desk = desk.get(f"/portal/messages/{message.id}/recording")  # the practice plays it in its portal
    assert at_the_desk.status_code == 200 and at_the_desk.data[:4] == b"RIFF"
    assert f"/portal/messages/{message.id}/recording" in desk.get(f"/portal/messages/{message.id}").get_data(
        as_text=True)
    harbor = system.app.test_client()
    assert log_in(harbor, "desk@harbor.test").status_code == 302
    assert harbor.get(f"/portal/messages/{message.id}/recording").status_code == 404
    with system.app.app_context():
        audited = db.session.execute(select(AuditEntry.user_id, AuditEntry.action)
                                     .where(AuditEntry.object_type == "recording")).all()
        assert sorted(audited) == sorted([(world["alice"], "play"), (world["maple_staff"], "refused"),
                                          (world["maple_staff"], "play"), (world["harbor_staff"], "refused")])
    recording_sid = message.recording_url.rsplit("/", 1)[-1]
    system.app.gateway.delete_recording(recording_sid)  # as the retention job does (callcenter/retention.py)
    system.app.gateway.delete_recording(recording_sid)  # already gone: counts as deleted
    assert agent.get(f"/console/voicemails/{message.id}/recording").status_code == 502  # Twilio has it no more
    with system.app.app_context():
        # A stored address that is not this account's recording at Twilio is never fetched.
        db.session.get(Message, message.id).recording_url = "http://evil.example/2010-04-01/Recordings/RE" + "0" * 32
        db.session.commit()
    assert agent.get(f"/console/voicemails/{message.id}/recording").status_code == 404


def _message(system):
    with system.app.app_context():
        return db.session.scalar(select(Message))


def test_after_hours_an_urgent_caller_is_put_through_to_the_on_call_clinician(system, maple_closed, on_call):
    call = _dial(system)
    call.press("1")
    call.wait_for("connect you to the on-call clinician")
    clinician = system.phone.incoming(ON_CALL_NUMBER)
    clinician.answer()
    clinician.wait_for("an urgent patient is on the line. Press 1 to speak to them.")
    assert not call.status().get("connected_to")  # not before they take the call
    clinician.press("1")
    call.wait_until(lambda s: s.get("connected_to"))
    page = system.phone.wait_for_sms(ON_CALL_NUMBER, "urgent patient call")
    assert PATIENT in page["body"]  # the clinician needs the number to call back
    call.hang_up()
    with system.app.app_context():
        assert db.session.scalar(select(OnCallPage.status)) == "sent"
    assert _ledger_call(system).outcome == "oncall"


def test_a_voicemail_whose_callbacks_were_all_lost_is_found_at_twilio_by_the_reconciler(system, maple_closed, on_call,
                                                                                        monkeypatch):
    """The database refused the recording and the transcription, and nothing could keep them: the caller
    still hears the truth (recorded: Twilio has it), and the worker's next round finds it through REST."""
    from datetime import timedelta

    from callcenter import voicemail
    from ops.jobs import reconcile

    def refused(*args, **kwargs):
        raise OperationalError("INSERT INTO messages", {}, Exception("database is locked"))

    monkeypatch.setattr(voicemail, "save", refused)
    monkeypatch.setattr(system.app.kept, "keep", refused)
    call = _dial(system)
    call.press("4")
    call.wait_until(lambda s: s.get("awaiting_input") == "record")
    call.say("This is Pat, please refill my lisinopril")
    call.press("#")
    call.wait_for("Your message has been recorded")
    call.wait_for_status("ended")
    eventually(lambda: _ledger_call(system).ended_at is not None)
    with system.app.app_context():
        assert db.session.scalar(select(Message)) is None
    monkeypatch.undo()

    with system.app.app_context():
        stored = db.session.scalar(select(Call))
        stored.ended_at -= timedelta(minutes=3)
        db.session.commit()
        assert reconcile()["voicemails_found"] == [stored.id]
        message = db.session.scalar(select(Message))
        assert (message.kind, message.needs_review, message.callback_number) == ("voicemail", True, PATIENT)
        assert message.body.startswith("Voicemail, ")
    audio = requests.get(message.recording_url + ".wav", timeout=5)  # the link staff will play
    assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/x-wav"


def test_hanging_up_during_the_greeting_is_an_abandoned_call_with_a_callback(system):
    call = system.phone.dial(PATIENT, MAPLE_NUMBER)
    call.wait_for("Thank you for calling")
    call.hang_up()
    eventually(lambda: _ledger_call(system).state == "abandoned")
    with system.app.app_context():
        assert db.session.scalar(select(CallbackTask.reason)) == "abandoned"


def test_hanging_up_during_the_voicemail_prompt_is_abandoned_not_lost(system, maple_closed, on_call):
    call = _dial(system)
    call.press("2")
    call.wait_for("after the tone")
    call.hang_up()
    eventually(lambda: _ledger_call(system).state == "abandoned")
    with system.app.app_context():
        assert db.session.scalar(select(CallbackTask.number)) == PATIENT


def test_hanging_up_while_the_on_call_clinician_rings_keeps_the_page(system, maple_closed, on_call):
    call = _dial(system)
    call.press("1")
    call.wait_for("connect you to the on-call clinician")
    system.phone.incoming(ON_CALL_NUMBER)  # ringing, not answered
    call.hang_up()
    eventually(lambda: _ledger_call(system).ended_at is not None)
    stored = _ledger_call(system)
    assert stored.outcome == "oncall"  # the clinician was paged with the number


def test_while_the_app_is_down_the_fallback_bin_takes_messages_that_become_voicemails_when_it_is_back(
        system, world, monkeypatch):
    """The app dies mid-day. Twilio (the emulator) asks each number's Fallback URL, a TwiML Bin: the caller
    hears the advisory and leaves a message, or hangs up. Back up, the worker finds both through REST."""
    from callcenter import outage
    from ops.jobs import reconcile

    emulator_url = system.emulator_url
    configure_bins(system, emulator_url)
    system._servers[0].stop()  # the app's web process is gone

    message_left = system.phone.dial(PATIENT, MAPLE_NUMBER)
    message_left.wait_for("If this is a medical emergency, hang up and dial 9 1 1")
    message_left.wait_until(lambda s: s.get("awaiting_input") == "record")
    message_left.say("This is Pat, my prescription ran out")
    message_left.press("#")
    message_left.wait_for("Your message has been recorded, and we will call you back")
    message_left.wait_for_status("ended")
    hung_up = system.phone.dial("+16175550123", MAPLE_NUMBER)
    hung_up.wait_for("If this is a medical emergency")
    hung_up.hang_up()
    hung_up.wait_for_status("ended")
    with system.app.app_context():
        assert db.session.scalar(select(Call)) is None  # the ledger saw nothing

    monkeypatch.setattr(outage, "SETTLE", outage.SETTLE * 0)  # no callbacks are on their way: look now
    with system.app.app_context():
        taken = reconcile()["taken_while_down"]
        assert len(taken) == 2
        message = db.session.scalar(select(Message))
        assert (message.kind, message.needs_review, message.callback_number) == ("voicemail", True, PATIENT)
        assert db.session.scalar(select(CallbackTask.number)) == "+16175550123"
    agent = system.app.test_client()
    assert log_in(agent, "alice@example.test").status_code == 302
    played = agent.get(f"/console/voicemails/{message.id}/recording")  # the message Twilio kept, playable
    assert played.status_code == 200 and played.data[:4] == b"RIFF"


def configure_bins(system, emulator_url: str) -> None:
    from callcenter import outage
    from emulator import configure

    configure(system.emulator, twiml_bins={"EH" + "1" * 32: outage.thanks_bin(),
                                           "EH" + "2" * 32: outage.fallback_bin(f"{emulator_url}/twiml/EH{'1' * 32}")},
              voice_fallback_url=f"{emulator_url}/twiml/EH{'2' * 32}")


def test_duplicated_reordered_and_late_status_callbacks_count_each_call_once(system, agent_on_duty, maple_closed,
                                                                            on_call):
    """Twilio's status callbacks sent twice, newest first and late: every call still ends once, with one
    outcome, one callback or one voicemail, and no call's status moves backwards."""
    from emulator import CallbackChaos, state_of

    state_of(system.emulator).callback_chaos = CallbackChaos(duplicate=True, reorder=True, delay=0.05)
    in_line = system.phone.dial(PATIENT, HARBOR_NUMBER)
    in_line.wait_for("press 1")
    in_line.press("2")
    in_line.wait_for("in line")
    in_line.hang_up()

    voicemail = _dial(system)  # Maple Street is closed today
    voicemail.press("4")
    voicemail.wait_until(lambda s: s.get("awaiting_input") == "record")
    voicemail.say("Please call me about my refill")
    voicemail.press("#")
    voicemail.wait_for("Your message has been recorded")

    greeting = system.phone.dial("+16175550144", HARBOR_NUMBER)
    greeting.wait_for("Thank you for calling")
    greeting.hang_up()
    for call in (in_line, voicemail, greeting):
        call.wait_for_status("ended")

    def settled():
        with system.app.app_context():
            stored = db.session.scalars(select(Call).order_by(Call.id)).all()
            done = len(stored) == 3 and all(c.ended_at is not None and c.telephony_status == "completed"
                                            for c in stored)
            return stored if done else None

    stored = eventually(settled)
    time.sleep(1.0)  # the duplicates still on their way arrive
    with system.app.app_context():
        stored = db.session.scalars(select(Call).order_by(Call.id)).all()
        assert [c.state for c in stored] == ["abandoned", "voicemail", "abandoned"]
        assert all(c.telephony_status == "completed" for c in stored)  # never back to ringing or in-progress
        tasks = db.session.scalars(select(CallbackTask.call_id).order_by(CallbackTask.call_id)).all()
        assert tasks == [stored[0].id, stored[2].id]
        assert db.session.scalar(select(func.count(Message.id))) == 1
