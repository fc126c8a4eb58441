"""Conformance of the call engine: each verb and rule against a small TwiML document served over HTTP."""

from __future__ import annotations

import re
import time

from flask import Response

from emulator.state import APP_ERROR_SPEECH

from .conftest import ACCOUNT_SID, PATIENT, PRACTICE_NUMBER, say

CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")


def test_it_posts_the_voice_webhook_with_twilios_fields_signed(emulator, twiml_app):
    twiml_app.route("/voice", say("Thank you for calling Maple Street."))

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    assert call.wait_for("Thank you for calling") == "Thank you for calling Maple Street."
    [hook] = twiml_app.wait_for_request("/voice")
    fields = hook["form"]
    assert CALL_SID.match(fields["CallSid"]) and fields["CallSid"] == call.sid
    assert fields["AccountSid"] == ACCOUNT_SID
    assert (fields["From"], fields["To"], fields["Caller"], fields["Called"]) == (
        PATIENT, PRACTICE_NUMBER, PATIENT, PRACTICE_NUMBER)
    assert (fields["CallStatus"], fields["ApiVersion"], fields["Direction"]) == ("ringing", "2010-04-01", "inbound")
    assert twiml_app.is_signed(hook)
    assert call.wait_for_status("completed")["display"] == "ended"


def test_it_keeps_cookies_between_the_requests_of_one_call(emulator, twiml_app):
    def voice(fields):
        response = Response("<Response><Redirect>/next</Redirect></Response>", content_type="text/xml")
        response.set_cookie("session", "abc123")
        return response

    twiml_app.route("/voice", voice)
    twiml_app.route("/next", say("Still here."))

    emulator.phone.dial(PATIENT, PRACTICE_NUMBER).wait_for("Still here.")

    [hook] = twiml_app.requests_to("/next")
    assert hook["cookies"] == {"session": "abc123"}
    assert hook["form"]["CallStatus"] == "in-progress"


def test_it_sends_gather_digits_to_the_current_document_by_default(emulator, twiml_app):
    def menu(fields):
        if "Digits" in fields:
            return say(f"You chose {fields['Digits']}.")
        return ('<Response><Gather numDigits="1" timeout="20"><Say>Press 1 for appointments.</Say></Gather>'
                "</Response>")

    twiml_app.route("/voice", "<Response><Redirect>/ivr/menu?practice=7</Redirect></Response>")
    twiml_app.route("/ivr/menu", menu)
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    call.wait_for("Press 1")
    assert call.status()["awaiting_input"] == "dtmf"

    call.press("1")

    assert call.wait_for("You chose") == "You chose 1."
    answer = twiml_app.requests_to("/ivr/menu")[-1]
    assert answer["url"].endswith("/ivr/menu?practice=7")
    assert answer["form"]["Digits"] == "1"
    assert twiml_app.is_signed(answer)


def test_it_falls_through_to_the_next_verb_when_gather_gets_no_input(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Gather action="/chosen" timeout="1"><Say>Press a key.</Say></Gather>'
                              "<Say>We did not hear anything.</Say></Response>")

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    call.wait_for("We did not hear anything.")
    assert twiml_app.requests_to("/chosen") == []
    call.wait_for_status("completed")


def test_it_posts_an_empty_result_when_asked_to(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Gather action="/chosen" timeout="1" actionOnEmptyResult="true">'
                              "<Say>Press a key.</Say></Gather></Response>")
    twiml_app.route("/chosen", say("Empty result."))

    emulator.phone.dial(PATIENT, PRACTICE_NUMBER).wait_for("Empty result.")

    assert twiml_app.requests_to("/chosen")[0]["form"]["Digits"] == ""


def test_it_ends_gather_on_finish_key_and_resolves_relative_action(emulator, twiml_app):
    twiml_app.route("/voice", "<Response><Redirect>/ivr/dob</Redirect></Response>")
    twiml_app.route("/ivr/dob", '<Response><Gather action="confirm?step=2" timeout="20">'
                                "<Say>Enter your birth year, then pound.</Say></Gather></Response>")
    twiml_app.route("/ivr/confirm", '<Response><Redirect method="GET">../done</Redirect></Response>')
    twiml_app.route("/done", say("Done."))
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    call.wait_for("birth year")

    call.press("1984#")

    call.wait_for("Done.")
    [confirm] = twiml_app.requests_to("/ivr/confirm")
    assert confirm["url"].endswith("/ivr/confirm?step=2")
    assert (confirm["form"]["Digits"], confirm["form"]["FinishedOnKey"]) == ("1984", "#")
    [done] = twiml_app.requests_to("/done")
    assert done["method"] == "GET" and done["form"]["CallSid"] == call.sid
    assert twiml_app.is_signed(done)


def test_it_sends_speech_as_speech_result(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Gather input="speech" action="/heard" timeout="20">'
                              "<Say>How can we help?</Say></Gather></Response>")
    twiml_app.route("/heard", lambda f: say(f"You said {f['SpeechResult']}."))
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    call.wait_for("How can we help?")
    assert call.status()["awaiting_input"] == "speech"

    call.say("refill my prescription")

    call.wait_for("You said refill my prescription.")
    fields = twiml_app.requests_to("/heard")[0]["form"]
    assert 0 < float(fields["Confidence"]) <= 1
    assert "Digits" not in fields


def test_it_plays_pauses_and_shows_lines_in_order(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Play>/audio/hello.mp3</Play><Pause length="1"/>'
                              '<Say voice="Polly.Joanna" loop="2">Hello.</Say><Hangup/><Say>Never.</Say></Response>')

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    state = call.wait_for_status("completed")
    heard = [line["text"] for line in state["transcript"]]
    assert heard == [f"[plays audio {twiml_app.url}/audio/hello.mp3]", "Hello.", "Hello."]


def test_it_counts_more_than_ten_redirects_in_a_row_as_an_application_error(emulator, twiml_app):
    twiml_app.route("/voice", "<Response><Redirect>/voice</Redirect></Response>")

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    call.wait_for(APP_ERROR_SPEECH)
    state = call.wait_for_status("completed")
    assert [e["code"] for e in state["errors"]] == [11215]
    assert len(twiml_app.requests_to("/voice")) == 11


def test_it_treats_a_server_error_as_an_application_error(emulator, twiml_app):
    twiml_app.route("/voice", "oops", status=500, content_type="text/plain")

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    assert call.wait_for("application error") == APP_ERROR_SPEECH
    assert [e["code"] for e in call.wait_for_status("completed")["errors"]] == [11200]
    status = twiml_app.wait_for_request("/status")[0]["form"]
    assert status["CallStatus"] == "completed"


def test_it_treats_invalid_nesting_as_an_application_error(emulator, twiml_app):
    twiml_app.route("/voice", "<Response><Gather><Dial>+15551234567</Dial></Gather></Response>")

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    call.wait_for(APP_ERROR_SPEECH)
    [error] = call.wait_for_status("completed")["errors"]
    assert error["code"] == 12100 and "Dial" in error["message"]


def test_it_treats_a_wrong_root_element_as_an_application_error(emulator, twiml_app):
    twiml_app.route("/voice", "<Reply><Say>Hi</Say></Reply>")

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    assert [e["code"] for e in call.wait_for_status("completed")["errors"]] == [12100]


def test_it_treats_a_slow_answer_as_an_application_error(emulator, twiml_app):
    emulator.state.read_timeout = 0.3
    twiml_app.route("/voice", say("Too late."), delay=1.0)

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    state = call.wait_for_status("completed")
    assert [e["code"] for e in state["errors"]] == [11205]
    assert [line["text"] for line in state["transcript"]] == [APP_ERROR_SPEECH]


def test_it_rejects_a_call_without_answering(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Reject reason="busy"/></Response>')

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    assert call.wait_for_status("ended")["status"] == "busy"
    assert twiml_app.wait_for_request("/status")[0]["form"]["CallStatus"] == "busy"


def test_it_runs_the_wait_url_with_queue_fields_and_reports_a_rest_redirect(emulator, twiml_app, twilio_client):
    twiml_app.route("/voice", '<Response><Enqueue action="/left" waitUrl="/hold">practice-7</Enqueue></Response>')
    twiml_app.route("/hold", '<Response><Say>Please hold.</Say><Pause length="5"/></Response>')
    twiml_app.route("/left", say("This is never heard."))
    twiml_app.route("/agent", say("Connecting you to Alice."))
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    call.wait_for("Please hold.")
    assert call.status()["display"] == "in queue (position 1)"
    fields = twiml_app.requests_to("/hold")[0]["form"]
    assert fields["QueuePosition"] == "1" and fields["CurrentQueueSize"] == "1"
    assert fields["QueueSid"].startswith("QU") and fields["MaxQueueSize"] == "1000"
    assert fields["QueueTime"].isdigit() and fields["AvgQueueTime"].isdigit()

    twilio_client.api.v2010.accounts(ACCOUNT_SID).calls(call.sid).update(url=twiml_app.url + "/agent",
                                                                          method="POST")

    call.wait_for("Connecting you to Alice.")
    [left] = twiml_app.wait_for_request("/left")
    assert left["form"]["QueueResult"] == "redirected"
    assert left["form"]["QueueSid"] == fields["QueueSid"] and left["form"]["QueueTime"].isdigit()
    assert "This is never heard." not in call.transcript()
    assert call.status()["in_queue"] is False


def test_it_leaves_the_queue_on_leave_and_continues_with_the_action(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Enqueue action="/left" waitUrl="/hold">q</Enqueue></Response>')
    twiml_app.route("/hold", "<Response><Say>Nobody is free.</Say><Leave/></Response>")
    twiml_app.route("/left", lambda f: say(f"Queue result {f['QueueResult']}."))

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    call.wait_for("Queue result leave.")


def test_it_refuses_verbs_a_wait_document_may_not_use(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Enqueue waitUrl="/hold">q</Enqueue></Response>')
    twiml_app.route("/hold", "<Response><Enqueue>other</Enqueue></Response>")

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    assert [e["code"] for e in call.wait_for_status("completed")["errors"]] == [12100]


def test_it_orders_callers_in_a_queue(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Enqueue waitUrl="/hold">q</Enqueue></Response>')
    twiml_app.route("/hold", '<Response><Pause length="5"/></Response>')
    first = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    first.wait_for_status("in queue (position 1)")

    second = emulator.phone.dial("+15555550999", PRACTICE_NUMBER)
    second.wait_for_status("in queue (position 2)")
    first.hang_up()

    second.wait_for_status("in queue (position 1)")


def test_it_bridges_dial_client_and_reports_the_dial_to_the_action(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Dial action="/dialed"><Client>alice</Client></Dial></Response>')
    alice = emulator.device("alice")  # Alice's browser, registered
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    [ringing] = _rings(alice)
    assert (ringing["from"], ringing["to"]) == (PATIENT, "client:alice")
    assert call.status()["display"] == "ringing" or not call.status()["connected_to"]  # nobody answered yet
    alice.accept(ringing["sid"])
    state = call.wait_for_status("connected to agent")
    assert state["connected_to"] == "client:alice"

    call.hang_up()

    [dialed] = twiml_app.wait_for_request("/dialed")
    fields = dialed["form"]
    assert fields["DialCallStatus"] == "completed"
    assert CALL_SID.match(fields["DialCallSid"]) and fields["DialCallSid"] != call.sid
    assert fields["DialCallDuration"].isdigit()
    assert call.wait_for_status("completed")["connected_to"] is None


def test_it_continues_with_the_dial_action_when_the_agent_hangs_up(emulator, twiml_app, twilio_client):
    twiml_app.route("/voice", '<Response><Dial action="/dialed"><Client>alice</Client></Dial></Response>')
    twiml_app.route("/dialed", lambda f: say(f"The agent call was {f['DialCallStatus']}."))
    emulator.answering("alice")
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    call.wait_for_status("connected to agent")
    [leg] = twilio_client.api.v2010.accounts(ACCOUNT_SID).calls.list(parent_call_sid=call.sid)
    assert (leg.direction, leg.to, leg.status) == ("outbound-dial", "client:alice", "in-progress")

    twilio_client.api.v2010.accounts(ACCOUNT_SID).calls(leg.sid).update(status="completed")

    call.wait_for("The agent call was completed.")


def _rings(device, timeout: float = 5) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        legs = device.incoming()
        if legs:
            return legs
        time.sleep(0.02)
    raise AssertionError("nothing rang the device")


def test_a_client_with_no_registered_device_rings_until_the_dial_times_out(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Dial action="/dialed" timeout="2"><Client>nobody</Client></Dial>'
                              "</Response>")
    twiml_app.route("/dialed", lambda f: say(f"Dial {f['DialCallStatus']}."))
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    call.wait_for("Dial no-answer.")


def test_a_device_that_rejects_the_call_makes_the_dial_busy(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Dial action="/dialed"><Client><Identity>bob</Identity>'
                              '<Parameter name="call_id" value="42"/></Client></Dial></Response>')
    twiml_app.route("/dialed", lambda f: say(f"Dial {f['DialCallStatus']}."))
    bob = emulator.device("bob")
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    [ringing] = _rings(bob)
    assert ringing["parameters"]["call_id"] == "42"  # the device is told which call this leg carries

    bob.reject(ringing["sid"])

    call.wait_for("Dial busy.")


def test_it_rings_a_softphone_for_dial_number(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Dial action="/dialed" timeout="20"><Number>+15550009999</Number></Dial>'
                              "</Response>")
    twiml_app.route("/dialed", lambda f: say(f"Dial {f['DialCallStatus']}."))
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    doctor = emulator.phone.incoming("+15550009999")
    assert doctor.status()["from"] == PATIENT

    doctor.answer()

    assert call.wait_for_status("connected to +15550009999")
    doctor.wait_for(f"[connected to {PATIENT}]")
    doctor.hang_up()
    call.wait_for("Dial completed.")


def test_it_reports_no_answer_when_nobody_picks_up(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Dial action="/dialed" timeout="2">+15550008888</Dial></Response>')
    twiml_app.route("/dialed", lambda f: say(f"Dial {f['DialCallStatus']}."))

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    call.wait_for("Dial no-answer.")


def test_it_records_a_message_and_sends_its_transcription(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Say>Leave a message.</Say>'
                              '<Record action="/recorded" timeout="2" transcribeCallback="/transcribed"/></Response>')
    twiml_app.route("/recorded", say("Thank you."))
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    call.wait_for("[beep]")
    call.wait_until(lambda s: s["awaiting_input"] == "record")

    call.say("Please call me back about my results")

    call.wait_for("Thank you.")
    fields = twiml_app.requests_to("/recorded")[0]["form"]
    assert fields["RecordingSid"].startswith("RE") and fields["RecordingDuration"].isdigit()
    assert fields["RecordingUrl"].startswith(emulator.url) and fields["RecordingSid"] in fields["RecordingUrl"]
    [transcription] = twiml_app.wait_for_request("/transcribed")
    assert transcription["form"]["TranscriptionText"] == "Please call me back about my results"
    assert transcription["form"]["RecordingSid"] == fields["RecordingSid"]
    assert twiml_app.is_signed(transcription)


AGENT_PHONE = "+16175550199"
WHISPER = ('<Response><Gather numDigits="1" timeout="3" action="/whisper-key">'
           '<Say>Maple Street call, press 1 to accept.</Say></Gather><Hangup/></Response>')


def _dial_with_whisper(twiml_app):
    twiml_app.route("/voice", f'<Response><Dial action="/dialed"><Number url="/whisper" '
                              f'statusCallback="/leg" statusCallbackEvent="answered completed">{AGENT_PHONE}'
                              "</Number></Dial></Response>")
    twiml_app.route("/whisper", WHISPER)
    twiml_app.route("/whisper-key", lambda f: "<Response/>" if f["Digits"] == "1" else "<Response><Hangup/></Response>")
    twiml_app.route("/dialed", lambda f: say(f"Dial {f['DialCallStatus']}."))
    twiml_app.route("/leg", "")


def test_a_numbers_whisper_runs_on_the_answered_leg_before_the_caller_is_connected(emulator, twiml_app):
    _dial_with_whisper(twiml_app)
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    agent = emulator.phone.incoming(AGENT_PHONE)
    agent.answer()

    agent.wait_for("press 1 to accept")
    assert not call.status()["connected_to"]  # the caller still hears it ring
    agent.press("1")

    call.wait_until(lambda s: s["connected_to"] == AGENT_PHONE)
    [whisper] = twiml_app.wait_for_request("/whisper")
    assert whisper["form"]["CallSid"] == agent.sid and whisper["form"]["ParentCallSid"] == call.sid
    agent.hang_up()
    call.wait_for("Dial completed.")


def test_a_whisper_that_hangs_up_connects_nobody_and_the_dial_goes_on(emulator, twiml_app):
    _dial_with_whisper(twiml_app)
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    agent = emulator.phone.incoming(AGENT_PHONE)  # a voicemail box picks up and presses nothing
    agent.answer()

    call.wait_for("Dial completed.")  # the leg was answered, so Twilio reports the dial completed

    assert agent.wait_for_status("ended")
    assert not any(line["text"].startswith("[connected") for line in call.status()["transcript"])
    legs = [r["form"] for r in twiml_app.requests if r["path"] == "/leg"]
    assert [leg["CallStatus"] for leg in legs] == ["in-progress", "completed"]
