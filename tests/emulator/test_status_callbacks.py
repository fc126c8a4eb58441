"""Call status callbacks: one signed request per event, in order, or late, doubled and reordered on request."""

from __future__ import annotations

import re

from emulator.state import CallbackChaos

from .conftest import ACCOUNT_SID, PATIENT, PRACTICE_NUMBER, say


def test_it_reports_the_end_of_an_inbound_call_to_the_status_url(emulator, twiml_app):
    twiml_app.route("/voice", say("Goodbye."))

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    [hook] = twiml_app.wait_for_request("/status")
    fields = hook["form"]
    assert fields["CallSid"] == call.sid
    assert fields["CallStatus"] == "completed"
    assert fields["CallDuration"].isdigit() and fields["Duration"] == "1"
    assert (fields["SequenceNumber"], fields["CallbackSource"]) == ("0", "call-progress-events")
    assert re.match(r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$", fields["Timestamp"])
    assert twiml_app.is_signed(hook)


def test_it_duplicates_delays_and_reorders_status_callbacks_on_request(emulator, twiml_app, twilio_client):
    chaos = emulator.state.callback_chaos
    chaos.duplicate, chaos.reorder, chaos.delay = True, True, 0.01
    emulator.answering("bob")  # Bob's browser picks up
    twilio_client.api.v2010.accounts(ACCOUNT_SID).calls.create(
        to="client:bob", from_=PRACTICE_NUMBER, twiml="<Response><Say>Hi Bob.</Say></Response>",
        status_callback=twiml_app.url + "/events", status_callback_event=["initiated", "ringing", "answered",
                                                                          "completed"])

    hooks = twiml_app.wait_for_request("/events", count=8)

    sequence = [h["form"]["SequenceNumber"] for h in hooks]
    assert sequence == ["3", "3", "2", "2", "1", "1", "0", "0"]
    assert hooks[0]["headers"]["I-Twilio-Idempotency-Token"] == hooks[1]["headers"]["I-Twilio-Idempotency-Token"]
    assert [h["form"]["CallStatus"] for h in hooks[::2]] == ["completed", "in-progress", "ringing", "initiated"]


def test_a_receiver_can_restore_the_order_of_chaotic_callbacks(emulator, twiml_app, twilio_client):
    emulator.state.callback_chaos = CallbackChaos.parse("duplicate,reorder,delay=0.01")
    emulator.answering("bob")  # Bob's browser picks up
    call = twilio_client.api.v2010.accounts(ACCOUNT_SID).calls.create(
        to="client:bob", from_=PRACTICE_NUMBER, twiml="<Response><Say>Hi Bob.</Say></Response>",
        status_callback=twiml_app.url + "/events", status_callback_event=["initiated", "ringing", "answered",
                                                                          "completed"])

    hooks = twiml_app.wait_for_request("/events", count=8)

    # What an idempotent receiver does: drop retries by their token, then order by SequenceNumber.
    unique = {h["headers"]["I-Twilio-Idempotency-Token"]: h["form"] for h in hooks}
    ordered = sorted(unique.values(), key=lambda f: int(f["SequenceNumber"]))
    assert [(f["CallSid"], f["SequenceNumber"], f["CallStatus"]) for f in ordered] == [
        (call.sid, "0", "initiated"), (call.sid, "1", "ringing"), (call.sid, "2", "in-progress"),
        (call.sid, "3", "completed")]
    assert [h["form"]["SequenceNumber"] for h in hooks] != sorted(h["form"]["SequenceNumber"] for h in hooks)
    assert "CallDuration" in ordered[-1] and all(twiml_app.is_signed(h) for h in hooks)
