"""Agents' browser audio: the access token the console's Voice SDK Device registers with, and the
emulator's device API that checks it as Twilio would."""

from __future__ import annotations

import time

from twilio.jwt import Jwt

from callcenter import voice_tokens
from emulator import create_emulator
from emulator.devices import identity_of
from tests.support import ACCOUNT_SID, AUTH_TOKEN, log_in

API_KEY = "SK" + "2" * 32
API_SECRET = "an-api-key-secret-of-32-bytes-xx"
TWIML_APP = "AP" + "3" * 32


def _real_account() -> voice_tokens.VoiceSetup:
    return voice_tokens.setup_from_config({
        "TWILIO_EMULATED": False, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_KEY": API_KEY, "TWILIO_API_SECRET": API_SECRET, "TWILIO_TWIML_APP_SID": TWIML_APP})


def test_the_token_grants_incoming_calls_to_the_agents_identity_for_an_hour():
    before = int(time.time())
    token = voice_tokens.access_token(_real_account(), 7)

    decoded = Jwt.from_jwt(token, API_SECRET)

    payload = decoded.payload
    assert decoded.headers["cty"] == "twilio-fpa;v=1"
    assert (payload["iss"], payload["sub"]) == (API_KEY, ACCOUNT_SID)
    assert payload["grants"]["identity"] == "agent-7"
    assert payload["grants"]["voice"] == {"incoming": {"allow": True}, "outgoing": {"application_sid": TWIML_APP}}
    assert before + 3600 <= payload["exp"] <= int(time.time()) + 3600
    assert payload["exp"] - payload["nbf"] == voice_tokens.TTL_SECONDS


def test_without_an_api_key_there_is_no_browser_audio():
    setup = voice_tokens.setup_from_config({"TWILIO_EMULATED": False, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                                            "TWILIO_AUTH_TOKEN": AUTH_TOKEN})
    assert setup.kind is None


def test_the_console_gets_a_token_for_its_own_agent_only(app, client, world):
    assert client.get("/console/voice-token").status_code == 302  # the login first
    log_in(client, "desk@maple.test")
    assert client.get("/console/voice-token").status_code == 403  # practice staff have no console

    agent = app.test_client()
    log_in(agent, "alice@example.test")
    answer = agent.get("/console/voice-token").get_json()
    assert answer["kind"] is None  # the test app has real-looking credentials and no API key
    assert answer["error"].startswith("Browser audio is not set up on this service")

    app.config.update(TWILIO_API_KEY=API_KEY, TWILIO_API_SECRET=API_SECRET, TWILIO_TWIML_APP_SID=TWIML_APP)
    answer = agent.get("/console/voice-token").get_json()
    assert (answer["kind"], answer["identity"]) == ("twilio", f"agent-{world['alice']}")
    assert Jwt.from_jwt(answer["token"], API_SECRET).payload["grants"]["identity"] == f"agent-{world['alice']}"


def test_the_emulator_accepts_its_own_accounts_tokens_and_no_others():
    emulator = create_emulator(ACCOUNT_SID, AUTH_TOKEN)
    state = emulator.extensions["twilio_emulator"]
    setup = voice_tokens.setup_from_config({"TWILIO_EMULATED": True, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                                            "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_API_BASE": "http://x"})
    good = voice_tokens.access_token(setup, 3)
    forged = voice_tokens.access_token(_real_account(), 3)  # signed with another secret
    expired = voice_tokens.access_token(setup, 3, ttl=-10)

    assert identity_of(state, good) == "agent-3"
    assert identity_of(state, forged) is None
    assert identity_of(state, expired) is None
    with emulator.test_client() as http:
        assert http.post("/device/api/register", json={"token": forged}).status_code == 401
        registered = http.post("/device/api/register", json={"token": good})
        assert registered.get_json()["identity"] == "agent-3"
        assert registered.headers["Access-Control-Allow-Origin"] == "*"  # the console calls it from its page
        assert http.get("/device/api/incoming", headers={"Authorization": f"Bearer {good}"}).get_json()["calls"] == []
