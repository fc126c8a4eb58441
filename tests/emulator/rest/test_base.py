"""What every REST resource shares: credentials and 404s in Twilio's error shape."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from ..conftest import ACCOUNT_SID, account


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
