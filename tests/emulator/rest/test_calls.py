"""The Calls resource through the real twilio Client, as the app's gateway uses it."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from ..conftest import PATIENT, PRACTICE_NUMBER, account, say


def test_it_places_an_outbound_call_that_rings_the_softphone(emulator, twiml_app, twilio_client):
    twiml_app.route("/callback", say("This is Maple Street returning your call."))

    created = account(twilio_client).calls.create(
        to=PATIENT, from_=PRACTICE_NUMBER, url=twiml_app.url + "/callback",
        status_callback=twiml_app.url + "/events",
        status_callback_event=["initiated", "ringing", "answered", "completed"])

    assert created.sid.startswith("CA") and created.status == "queued"
    assert (created.to, created._from, created.direction) == (PATIENT, PRACTICE_NUMBER, "outbound-api")
    ringing = emulator.phone.incoming(PATIENT)
    assert ringing.sid == created.sid
    ringing.answer()
    ringing.wait_for("returning your call")
    [fetch] = twiml_app.requests_to("/callback")
    assert (fetch["form"]["CallStatus"], fetch["form"]["Direction"]) == ("in-progress", "outbound-api")
    assert twiml_app.is_signed(fetch)
    events = twiml_app.wait_for_request("/events", count=4)
    assert [(e["form"]["SequenceNumber"], e["form"]["CallStatus"]) for e in events] == [
        ("0", "initiated"), ("1", "ringing"), ("2", "in-progress"), ("3", "completed")]
    assert "CallDuration" in events[3]["form"] and all(twiml_app.is_signed(e) for e in events)
    assert account(twilio_client).calls(created.sid).fetch().status == "completed"


def test_it_reports_busy_when_the_softphone_declines(emulator, twiml_app, twilio_client):
    created = account(twilio_client).calls.create(to=PATIENT, from_=PRACTICE_NUMBER, url=twiml_app.url + "/x",
                                                  status_callback=twiml_app.url + "/events")
    emulator.phone.incoming(PATIENT).decline()

    [event] = twiml_app.wait_for_request("/events")

    assert event["form"]["CallStatus"] == "busy"
    assert account(twilio_client).calls(created.sid).fetch().status == "busy"
    assert twiml_app.requests_to("/x") == []


def test_it_redirects_a_live_call_to_inline_twiml(emulator, twiml_app, twilio_client):
    twiml_app.route("/voice", '<Response><Say>Hold on.</Say><Pause length="60"/></Response>')
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    call.wait_for("Hold on.")

    updated = account(twilio_client).calls(call.sid).update(twiml="<Response><Say>Changed plans.</Say></Response>")

    assert updated.sid == call.sid
    call.wait_for("Changed plans.")


def test_it_hangs_up_a_live_call(emulator, twiml_app, twilio_client):
    twiml_app.route("/voice", '<Response><Pause length="60"/></Response>')
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    call.wait_for_status("in-progress")

    updated = account(twilio_client).calls(call.sid).update(status="completed")

    assert updated.status == "completed"
    assert call.status()["display"] == "ended"
    assert twiml_app.wait_for_request("/status")[0]["form"]["CallStatus"] == "completed"


def test_it_refuses_to_redirect_a_call_that_has_ended(emulator, twiml_app, twilio_client):
    twiml_app.route("/voice", "<Response><Hangup/></Response>")
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    call.wait_for_status("completed")

    with pytest.raises(TwilioRestException) as error:
        account(twilio_client).calls(call.sid).update(url=twiml_app.url + "/late", method="POST")

    assert (error.value.status, error.value.code) == (400, 21220)
