"""While the app is down, the numbers' Fallback URL (a TwiML Bin) takes the calls; when it is back, the
worker finds them through Twilio's REST API: a voicemail to review, or a callback owed, for each."""

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.etree import ElementTree

from sqlalchemy import func, select

from callcenter import outage
from callcenter.extensions import db
from callcenter.models import AuditEntry, Call, CallbackTask, CallEvent, Message
from ops.jobs import OUTAGE_SLOT, reconcile
from tests.support import ACCOUNT_SID, MAPLE_NUMBER, PATIENT, make_call, waiting_call

LEFT_A_MESSAGE = "CA" + "1" * 32
HUNG_UP = "CA" + "2" * 32
SEEN = "CA" + "3" * 32


def _twilio_call(sid: str, *, ended_ago: timedelta | None = timedelta(minutes=8), status: str = "completed",
                 direction: str = "inbound", to: str = MAPLE_NUMBER) -> dict:
    now = datetime.now(UTC)
    ended = now - ended_ago if ended_ago is not None else None
    started = (ended or now) - timedelta(seconds=40)
    return {"sid": sid, "account_sid": ACCOUNT_SID, "from": PATIENT, "to": to, "direction": direction,
            "status": status, "start_time": format_datetime(started, usegmt=True),
            "end_time": format_datetime(ended, usegmt=True) if ended else None, "duration": "40"}


def test_calls_twilio_took_while_the_app_was_down_become_voicemails_and_callbacks(app, world, twilio_http):
    waiting_call(app, call_sid=SEEN)  # the ledger has this one already
    twilio_http.calls = [
        _twilio_call(LEFT_A_MESSAGE), _twilio_call(HUNG_UP, ended_ago=timedelta(minutes=20)),
        _twilio_call(SEEN),
        _twilio_call("CA" + "4" * 32, direction="outbound-api"),  # one of ours, to a patient
        _twilio_call("CA" + "5" * 32, ended_ago=timedelta(seconds=30)),  # its callbacks may still come
        _twilio_call("CA" + "6" * 32, ended_ago=None, status="in-progress"),
        _twilio_call("CA" + "7" * 32, to="+15005550006"),  # not a practice's number
        _twilio_call("CA" + "8" * 32, ended_ago=outage.LOOKBACK + timedelta(hours=1)),  # older than the look back
    ]
    twilio_http.recordings[LEFT_A_MESSAGE] = [{
        "sid": "RE" + "1" * 32, "call_sid": LEFT_A_MESSAGE, "duration": "21", "status": "completed",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'1' * 32}.json"}]

    with app.app_context():
        taken = reconcile()["taken_while_down"]
        by_sid = {c.call_sid: c for c in db.session.scalars(select(Call))}
        assert sorted(taken) == sorted([by_sid[HUNG_UP].id, by_sid[LEFT_A_MESSAGE].id])
        assert taken[0] == by_sid[HUNG_UP].id  # oldest first

        voicemail = by_sid[LEFT_A_MESSAGE]
        [message] = db.session.scalars(select(Message).where(Message.call_id == voicemail.id)).all()
        assert (message.kind, message.needs_review, message.callback_number) == ("voicemail", True, PATIENT)
        assert message.recording_url.endswith(f"/Recordings/RE{'1' * 32}")
        assert voicemail.state == "voicemail" and voicemail.ended_at is not None

        hung_up = by_sid[HUNG_UP]
        assert hung_up.state == "abandoned"
        assert db.session.scalar(select(CallbackTask.number).where(CallbackTask.call_id == hung_up.id)) == PATIENT
        assert set(by_sid) == {LEFT_A_MESSAGE, HUNG_UP, SEEN}
        kinds = db.session.scalars(select(CallEvent.kind).where(CallEvent.call_id == hung_up.id)).all()
        assert "taken_while_app_down" in kinds

        assert reconcile()["taken_while_down"] == []  # the next look is ten minutes away
        app.redis.delete(OUTAGE_SLOT)
        assert reconcile()["taken_while_down"] == []  # and finds nothing new
        assert db.session.scalar(select(func.count(Message.id))) == 1
        assert db.session.scalar(select(func.count(CallbackTask.id))) == 1


def test_the_bins_give_the_advisory_take_a_voicemail_and_end_on_thanks():
    fallback = ElementTree.fromstring(outage.fallback_bin("https://handler.twilio.com/twiml/EH" + "0" * 32))
    said = " ".join(s.text for s in fallback.iter("Say"))
    assert "If this is a medical emergency, hang up and dial 9 1 1" in said
    assert "We will call you back" in said
    record = fallback.find("Record")
    assert record.get("action") == "https://handler.twilio.com/twiml/EH" + "0" * 32
    assert record.get("finishOnKey") == "#" and record.get("maxLength") == "180"
    thanks = ElementTree.fromstring(outage.thanks_bin())
    assert "Your message has been recorded" in thanks.find("Say").text
    assert thanks.find("Hangup") is not None


def test_the_command_prints_both_bins_and_where_they_go(cli):
    result = cli.invoke(args=["twilio", "outage-bins"])
    assert result.exit_code == 0, result.output
    assert "Fallback URL" in result.output and "<Record" in result.output
    assert "Your message has been recorded" in result.output


def test_an_outage_voicemail_says_it_was_not_transcribed(app, world, twilio_http):
    twilio_http.calls = [_twilio_call(LEFT_A_MESSAGE)]
    twilio_http.recordings[LEFT_A_MESSAGE] = [{
        "sid": "RE" + "1" * 32, "call_sid": LEFT_A_MESSAGE, "duration": "21", "status": "completed",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'1' * 32}.json"}]
    with app.app_context():
        assert len(reconcile()["taken_while_down"]) == 1
        message = db.session.scalar(select(Message))
    # The Bin's <Record> does not transcribe: "Transcription pending" would never come true.
    assert message.body == ("Voicemail left while the service could not answer, 21 seconds. "
                            "Not transcribed: listen to the recording.")


def test_an_outage_check_that_fails_stops_nothing_else_in_the_round(app, world, twilio_http, caplog):
    caplog.set_level(logging.ERROR, logger="ops.jobs")
    garbled = _twilio_call(LEFT_A_MESSAGE)
    garbled["end_time"] = 1765000000  # Twilio's list is not what it should be: the check itself fails
    twilio_http.calls = [garbled]
    with app.app_context():
        make_call(app, world["maple"])
        db.session.add(AuditEntry(action="view", object_type="call", object_id=1, practice_id=world["maple"]))
        db.session.commit()
        result = reconcile()  # the round goes on past it
    assert result["taken_while_down"] == [] and result["audit_sealed"] == 1
    assert "reconciler: the outage check failed (AttributeError); tried again next round" in caplog.text


def test_a_full_round_of_outage_calls_lets_the_next_round_go_on_at_once(app, world, twilio_http):
    twilio_http.calls = [_twilio_call("CA" + f"{n:032d}", ended_ago=timedelta(minutes=10 + n))
                         for n in range(outage.PER_ROUND + 5)]
    with app.app_context():
        assert len(reconcile()["taken_while_down"]) == outage.PER_ROUND
        assert len(reconcile()["taken_while_down"]) == 5  # thirty seconds later, not ten minutes
        assert reconcile()["taken_while_down"] == []
        assert db.session.scalar(select(func.count(Call.id))) == outage.PER_ROUND + 5
