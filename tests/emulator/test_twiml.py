"""TwiML parsing and validation, and webhook signing, without any HTTP."""

from __future__ import annotations

import pytest

from emulator.twiml import TwimlError, parse
from emulator.webhooks import sign, split_fragment


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
])
def test_it_refuses_documents_twilio_would_refuse(document, message):
    with pytest.raises(TwimlError, match=message) as error:
        parse(document)

    assert error.value.code == 12100


def test_it_accepts_an_empty_finish_on_key_and_lowercase_methods():
    [gather] = parse('<Response><Gather finishOnKey="" method="get"/></Response>')

    assert gather.attrs["finishOnKey"] == ""


def test_it_restricts_wait_and_queue_documents():
    assert [v.name for v in parse("<Response><Say>Hold</Say><Leave/></Response>", "wait")] == ["Say", "Leave"]
    with pytest.raises(TwimlError):
        parse("<Response><Dial>+15551234567</Dial></Response>", "wait")
    with pytest.raises(TwimlError):
        parse("<Response><Gather/></Response>", "dial-queue")


def test_it_signs_like_twilio():
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
              "From": "+14158675309", "To": "+18005551212"}

    assert sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert sign("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", params) == \
        "kvajT1Ptam85bY51eRf/AJRuM3w="


def test_it_keeps_connection_overrides_out_of_the_url():
    assert split_fragment("https://x.test/voice?a=1#ct=1000&rt=2500") == ("https://x.test/voice?a=1",
                                                                           {"ct": 1000, "rt": 2500})
