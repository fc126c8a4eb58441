"""Access tokens for agents' browser audio: a Twilio `AccessToken` with a `VoiceGrant`.

The console's Twilio Voice SDK `Device` registers with one as `agent-<id>` (the identity the
connect TwiML dials with `<Dial><Client>`), and asks for a new one before it expires. On a real
account the token is signed with an API key (TWILIO_API_KEY / TWILIO_API_SECRET) and names the
TwiML app (TWILIO_TWIML_APP_SID); with the built-in emulator, with the emulator's own auth token
(its device API checks it the same way Twilio would).
"""

from __future__ import annotations

from dataclasses import dataclass

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

TTL_SECONDS = 3600  # the browser refreshes it a minute before it runs out
EMULATOR_API_KEY = "SK" + "e" * 32


@dataclass(frozen=True)
class VoiceSetup:
    """How agents' browsers get audio: 'twilio' (the Voice SDK), 'emulator' (its device), or None."""

    kind: str | None
    account_sid: str
    api_key: str = ""
    api_secret: str = ""
    twiml_app_sid: str = ""
    device_api: str = ""  # the emulator's base URL, for its device


def setup_from_config(config) -> VoiceSetup:
    """Read the app's settings: real credentials with an API key mean the SDK; the emulator its device."""
    if config.get("TWILIO_EMULATED"):
        return VoiceSetup("emulator", config["TWILIO_ACCOUNT_SID"], EMULATOR_API_KEY, config["TWILIO_AUTH_TOKEN"],
                          "AP" + "e" * 32, device_api=config["TWILIO_API_BASE"])
    if config.get("TWILIO_API_KEY") and config.get("TWILIO_API_SECRET"):
        return VoiceSetup("twilio", config["TWILIO_ACCOUNT_SID"], config["TWILIO_API_KEY"],
                          config["TWILIO_API_SECRET"], config.get("TWILIO_TWIML_APP_SID") or "")
    return VoiceSetup(None, config.get("TWILIO_ACCOUNT_SID", ""))


def agent_identity(agent_id: int) -> str:
    """The client identity an agent's browser registers as."""
    return f"agent-{agent_id}"


def access_token(setup: VoiceSetup, agent_id: int, ttl: int = TTL_SECONDS) -> str:
    """A signed token that lets the agent's browser receive calls dialled to their identity."""
    if setup.kind is None:
        raise ValueError("browser audio is not configured (TWILIO_API_KEY and TWILIO_API_SECRET)")
    token = AccessToken(setup.account_sid, setup.api_key, setup.api_secret, identity=agent_identity(agent_id),
                        ttl=ttl)
    token.add_grant(VoiceGrant(incoming_allow=True, outgoing_application_sid=setup.twiml_app_sid or None))
    return token.to_jwt()
