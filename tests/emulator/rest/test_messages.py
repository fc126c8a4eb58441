"""The Messages resource through the real twilio Client, and a softphone texting the app."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from ..conftest import PATIENT, PRACTICE_NUMBER, account


def test_it_delivers_an_sms_to_the_softphone_inbox(emulator, twiml_app, twilio_client):
    message = account(twilio_client).messages.create(to=PATIENT, from_=PRACTICE_NUMBER, body="Your callback is at 3pm.",
                                                     status_callback=twiml_app.url + "/sms-status")

    assert message.sid.startswith("SM") and message.status == "queued" and message.body == "Your callback is at 3pm."
    assert emulator.phone.wait_for_sms(PATIENT, "3pm")["from"] == PRACTICE_NUMBER
    statuses = twiml_app.wait_for_request("/sms-status", count=2)
    assert [s["form"]["MessageStatus"] for s in statuses] == ["sent", "delivered"]
    assert account(twilio_client).messages(message.sid).fetch().status == "delivered"


def test_a_text_to_a_number_made_undeliverable_ends_undelivered_with_30003(emulator, twiml_app, twilio_client):
    from emulator import configure

    configure(emulator.app, undeliverable=[PATIENT])  # a phone switched off, a landline
    message = account(twilio_client).messages.create(to=PATIENT, from_=PRACTICE_NUMBER, body="Urgent page.",
                                                     status_callback=twiml_app.url + "/sms-status")

    statuses = twiml_app.wait_for_request("/sms-status", count=2)
    assert [s["form"]["MessageStatus"] for s in statuses] == ["sent", "undelivered"]
    assert statuses[1]["form"]["ErrorCode"] == "30003" and "ErrorCode" not in statuses[0]["form"]
    fetched = account(twilio_client).messages(message.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30003)
    assert emulator.phone.inbox(PATIENT) == []


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
