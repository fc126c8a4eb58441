"""Webhook signing and Twilio's connection overrides, without any HTTP."""

from __future__ import annotations

from emulator.webhooks import sign, split_fragment


def test_it_signs_like_twilio():
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
              "From": "+14158675309", "To": "+18005551212"}

    assert sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert sign("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", params) == \
        "kvajT1Ptam85bY51eRf/AJRuM3w="


def test_it_keeps_connection_overrides_out_of_the_url():
    assert split_fragment("https://x.test/voice?a=1#ct=1000&rt=2500") == ("https://x.test/voice?a=1",
                                                                           {"ct": 1000, "rt": 2500})
