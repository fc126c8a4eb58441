"""TwiML parsing and validation, without any HTTP."""

from __future__ import annotations

import pytest

from emulator.twiml import TwimlError, parse


def test_it_parses_verbs_attributes_and_spoken_text():
    verbs = parse('<?xml version="1.0"?><Response><Gather numDigits="1" action="/next">'
                  '<Say voice="Polly.Joanna">Press <emphasis>one</emphasis> now.</Say></Gather></Response>')

    [gather] = verbs
    assert (gather.name, gather.attrs) == ("Gather", {"numDigits": "1", "action": "/next"})
    assert gather.children[0].text == "Press one now."


@pytest.mark.parametrize("document, message", [
    ("<Reply/>", "Root element"),
    ("<Response><Say>Hi</Response>", "parse failure"),
    ("<Response><Gather><Dial>+1555</Dial></Gather></Response>", "<Dial> may not be nested in <Gather>"),
    ("<Response><Say><Play>x</Play></Say></Response>", "may not be nested in <Say>"),
    ("<Response><Speak>Hi</Speak></Response>", "Unknown verb"),
    ('<Response><Gather finishOnKey="##"/></Response>', "finishOnKey"),
    ('<Response><Gather numDigits="0"/></Response>', "numDigits"),
    ('<Response><Gather timeout="soon"/></Response>', "timeout"),
    ('<Response><Gather input="touch"/></Response>', "input"),
    ('<Response><Redirect method="PUT">/x</Redirect></Response>', "method"),
    ('<Response><Reject reason="nope"/></Response>', "reason"),
    ("<Response><Redirect/></Response>", "needs a URL"),
    ("<Response><Enqueue>" + "q" * 65 + "</Enqueue></Response>", "64"),
    ("<Response><Dial><Number><Say>x</Say></Number></Dial></Response>", "may not be nested in <Number>"),
    ('<Response><Gather timeout="-1"/></Response>', "timeout"),
    ('<Response><Gather numDigits="-1"/></Response>', "numDigits"),
    ('<Response><Gather finishOnKey="ab"/></Response>', "finishOnKey"),
    ('<Response><Gather speechTimeout="soon" input="speech"/></Response>', "speechTimeout"),
    ('<Response><Gather input="dtmf voice"/></Response>', "input"),
    ('<Response><Gather language="english"/></Response>', "language"),
    ("<Response><Gather><Gather/></Gather></Response>", "<Gather> may not be nested in <Gather>"),
    ("<Response><Gather><Record/></Gather></Response>", "<Record> may not be nested in <Gather>"),
    ('<Response><Say language="en_US">Hi</Say></Response>', "language"),
    ('<Response><Say voice="Joanna">Hi</Say></Response>', "voice"),
    ('<Response><Say loop="-1">Hi</Say></Response>', "loop"),
    ('<Response><Pause length="soon"/></Response>', "length"),
    ("<Response><Hangup><Say>Bye</Say></Hangup></Response>", "may not be nested in <Hangup>"),
    ("<Response><Leave><Say>Bye</Say></Leave></Response>", "may not be nested in <Leave>"),
    ("<Response><Enqueue/></Response>", "queue name"),
    ('<Response><Enqueue waitUrlMethod="PUT">q</Enqueue></Response>', "waitUrlMethod"),
    ('<Response><Dial timeout="0"><Client>a</Client></Dial></Response>', "timeout"),
    ("<Response><Dial><Client/></Dial></Response>", "needs a value"),
    ("<Response><Dial/></Response>", "needs a number"),
    ('<Response><Dial record="record-everything"><Client>a</Client></Dial></Response>', "record"),
    ('<Response><Dial recordingStatusCallbackEvent="done"><Client>a</Client></Dial></Response>', "recordingStatus"),
    ('<Response><Record maxLength="0"/></Response>', "maxLength"),
    ('<Response><Record finishOnKey="#x"/></Response>', "finishOnKey"),
    ('<Response><Record playBeep="yes"/></Response>', "playBeep"),
    ('<Response><Record transcribe="1"/></Response>', "transcribe"),
    ('<Response><Record trim="true"/></Response>', "trim"),
    ('<Response><Dial><Conference endConferenceOnExit="maybe">r</Conference></Dial></Response>', "endConference"),
    ('<Response><Dial><Conference maxParticipants="1">r</Conference></Dial></Response>', "maxParticipants"),
    ('<Response><Dial><Conference beep="loud">r</Conference></Dial></Response>', "beep"),
    ('<Response><Dial><Conference statusCallbackEvent="begin">r</Conference></Dial></Response>', "statusCallback"),
    ("<Response><Dial><Conference/></Dial></Response>", "needs a value"),
    ("<Response><say>lowercase verbs are unknown</say></Response>", "Unknown verb"),
])
def test_it_refuses_documents_twilio_would_refuse(document, message):
    with pytest.raises(TwimlError, match=message) as error:
        parse(document)

    assert error.value.code == 12100


def test_it_accepts_an_empty_finish_on_key_and_lowercase_methods():
    [gather] = parse('<Response><Gather finishOnKey="" method="get"/></Response>')

    assert gather.attrs["finishOnKey"] == ""


def test_it_accepts_every_attribute_value_twilio_documents_for_the_verbs_the_app_uses():
    document = (
        '<Response><Say voice="Polly.Joanna" language="en-US" loop="2">Hi</Say>'
        '<Say voice="Polly.Lupe-Neural" language="es-US">Hola</Say><Say voice="Google.en-US-Standard-C">Hi</Say>'
        '<Gather input="dtmf speech" hints="refill, nurse" language="es-US" speechTimeout="auto" finishOnKey=""'
        ' numDigits="1" timeout="6" action="/ivr/menu?attempt=1" method="POST" actionOnEmptyResult="true">'
        '<Say>Menu</Say><Play>/a.mp3</Play><Pause length="1"/></Gather>'
        '<Gather input="speech" speechTimeout="3"/><Gather finishOnKey="*"/>'
        '<Enqueue waitUrl="/ivr/wait" waitUrlMethod="GET" action="/ivr/queue-exit" method="POST">q</Enqueue>'
        '<Dial action="/ivr/dial-done/1" method="POST" timeout="20" hangupOnStar="true" trim="do-not-trim">'
        "<Client>agent-1</Client></Dial>"
        '<Dial timeout="25" record="record-from-answer-dual" recordingStatusCallback="/ivr/call-recording"'
        ' recordingStatusCallbackEvent="in-progress completed" recordingStatusCallbackMethod="POST">'
        '<Number>+14155550199</Number></Dial>'
        '<Dial><Conference startConferenceOnEnter="false" endConferenceOnExit="true" waitUrl="" beep="onEnter"'
        ' muted="false" maxParticipants="2" record="record-from-start" trim="trim-silence"'
        ' statusCallbackEvent="start end join leave mute hold">room</Conference></Dial>'
        '<Record action="/ivr/voicemail" method="POST" maxLength="180" finishOnKey="#" playBeep="true"'
        ' transcribe="true" transcribeCallback="/ivr/transcription" trim="trim-silence" timeout="0"/>'
        '<Pause length="50"/><Redirect method="POST">/ivr/menu?attempt=1&amp;silent=1</Redirect><Leave/><Hangup/>'
        "</Response>"
    )

    assert len(parse(document)) == 15


def test_it_restricts_wait_and_queue_documents():
    assert [v.name for v in parse("<Response><Say>Hold</Say><Leave/></Response>", "wait")] == ["Say", "Leave"]
    with pytest.raises(TwimlError):
        parse("<Response><Dial>+15551234567</Dial></Response>", "wait")
    with pytest.raises(TwimlError):
        parse("<Response><Gather/></Response>", "dial-queue")
    with pytest.raises(TwimlError, match="Enqueue") as error:
        parse("<Response><Enqueue>other</Enqueue></Response>", "wait")
    assert error.value.code == 12100


def test_it_restricts_conference_wait_documents_with_twilios_error_13238():
    assert [v.name for v in parse("<Response><Play>/m.mp3</Play><Redirect>/w</Redirect></Response>",
                                  "conference-wait")] == ["Play", "Redirect"]
    for verb in ("<Gather/>", "<Hangup/>", "<Record/>", "<Dial>+15551234567</Dial>"):
        with pytest.raises(TwimlError) as error:
            parse(f"<Response>{verb}</Response>", "conference-wait")
        assert error.value.code == 13238
