"""The REST API through the real twilio Client, as the app's gateway uses it."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from .conftest import ACCOUNT_SID, PATIENT, PRACTICE_NUMBER, say


def account(client):
    return client.api.v2010.accounts(ACCOUNT_SID)


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


def test_it_answers_404_for_an_unknown_call(twilio_client):
    with pytest.raises(TwilioRestException) as error:
        account(twilio_client).calls("CA" + "0" * 32).fetch()

    assert (error.value.status, error.value.code) == (404, 20404)


def test_it_answers_401_for_bad_credentials(emulator):
    client = Client(ACCOUNT_SID, "wrong-token")
    client.api.base_url = emulator.url

    with pytest.raises(TwilioRestException) as error:
        account(client).calls("CA" + "0" * 32).fetch()

    assert (error.value.status, error.value.code) == (401, 20003)


def test_it_delivers_an_sms_to_the_softphone_inbox(emulator, twiml_app, twilio_client):
    message = account(twilio_client).messages.create(to=PATIENT, from_=PRACTICE_NUMBER, body="Your callback is at 3pm.",
                                                     status_callback=twiml_app.url + "/sms-status")

    assert message.sid.startswith("SM") and message.status == "queued" and message.body == "Your callback is at 3pm."
    assert emulator.phone.wait_for_sms(PATIENT, "3pm")["from"] == PRACTICE_NUMBER
    statuses = twiml_app.wait_for_request("/sms-status", count=2)
    assert [s["form"]["MessageStatus"] for s in statuses] == ["sent", "delivered"]
    assert account(twilio_client).messages(message.sid).fetch().status == "delivered"


def test_it_refuses_an_sms_without_a_body(twilio_client):
    with pytest.raises(TwilioRestException) as error:
        account(twilio_client).messages.create(to=PATIENT, from_=PRACTICE_NUMBER, body=" ")

    assert error.value.code == 21602


def test_it_posts_a_softphone_text_to_the_sms_url_and_delivers_the_reply(emulator, twiml_app):
    twiml_app.route("/sms", "<Response><Message>We got your message.</Message></Response>")

    emulator.phone.text(PATIENT, PRACTICE_NUMBER, "Need a refill")

    [hook] = twiml_app.wait_for_request("/sms")
    assert (hook["form"]["Body"], hook["form"]["From"], hook["form"]["To"]) == (
        "Need a refill", PATIENT, PRACTICE_NUMBER)
    assert hook["form"]["MessageSid"].startswith("SM") and twiml_app.is_signed(hook)
    assert emulator.phone.wait_for_sms(PATIENT, "We got your message.")["from"] == PRACTICE_NUMBER


def test_it_lists_queues_and_dequeues_the_front_member(emulator, twiml_app, twilio_client):
    twiml_app.route("/voice", '<Response><Enqueue action="/left" waitUrl="/hold">practice-7</Enqueue></Response>')
    twiml_app.route("/hold", '<Response><Pause length="30"/></Response>')
    twiml_app.route("/agent", say("An agent is ready."))
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    call.wait_for_status("in queue (position 1)")

    [queue] = account(twilio_client).queues.list()
    assert (queue.friendly_name, queue.current_size, queue.max_size) == ("practice-7", 1, 1000)
    [member] = account(twilio_client).queues(queue.sid).members.list()
    assert (member.call_sid, member.position) == (call.sid, 1)
    account(twilio_client).queues(queue.sid).members("Front").update(url=twiml_app.url + "/agent", method="POST")

    call.wait_for("An agent is ready.")
    assert twiml_app.wait_for_request("/left")[0]["form"]["QueueResult"] == "redirected"
    assert account(twilio_client).queues(queue.sid).fetch().current_size == 0


def test_it_bridges_an_agent_to_the_front_of_a_queue(emulator, twiml_app, twilio_client):
    twiml_app.route("/voice", '<Response><Enqueue action="/left" waitUrl="/hold">q</Enqueue></Response>')
    twiml_app.route("/hold", '<Response><Pause length="30"/></Response>')
    twiml_app.route("/left", lambda f: say(f"Queue result {f['QueueResult']}."))
    twiml_app.route("/agent", "<Response><Dial><Queue>q</Queue></Dial></Response>")
    patient = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    patient.wait_for_status("in queue (position 1)")

    account(twilio_client).calls.create(to="+15550007777", from_=PRACTICE_NUMBER, url=twiml_app.url + "/agent")
    agent = emulator.phone.incoming("+15550007777")
    agent.answer()

    patient.wait_until(lambda s: s["connected_to"] is not None)
    agent.hang_up()
    patient.wait_for("Queue result bridged.")
