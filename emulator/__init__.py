"""A local Twilio: REST API, TwiML call engine, signed webhooks and a softphone, over real HTTP.

    app = create_emulator(account_sid, auth_token, voice_url=..., status_url=..., sms_url=...)
    configure(app, voice_url=...)   # change webhook targets later
    state_of(app).callback_chaos = CallbackChaos(duplicate=True, reorder=True, delay=0.2)

Status callback chaos (duplicate, delay, reorder) is off by default; from the command line it is
`python -m emulator --chaos duplicate,reorder,delay=0.2` (see emulator/__main__.py). Conference rooms
(`<Dial><Conference>`) are in emulator/conference.py.
"""

from __future__ import annotations

from flask import Flask, request

from .state import CallbackChaos, EmulatorState
from .status_callbacks import StatusCallbacks

__all__ = ["create_emulator", "configure", "state_of", "EmulatorState", "CallbackChaos"]

EXTENSION = "twilio_emulator"


def create_emulator(account_sid: str, auth_token: str, voice_url: str | None = None,
                    status_url: str | None = None, sms_url: str | None = None,
                    numbers: list[str] | None = None, speed: float = 1.0) -> Flask:
    """Build the emulator's Flask app; its state is at `app.extensions["twilio_emulator"]`."""
    from . import bins, devices, phone, rest

    app = Flask(__name__)
    state = EmulatorState(account_sid, auth_token, voice_url, status_url, sms_url, numbers, speed)
    state.status_callbacks = StatusCallbacks(state)
    app.extensions[EXTENSION] = state
    @app.before_request
    def learn_base_url():
        state.base_url = request.host_url.rstrip("/")  # for absolute URLs such as RecordingUrl

    app.register_blueprint(rest.bp)
    app.register_blueprint(phone.bp)
    app.register_blueprint(devices.bp)
    app.register_blueprint(bins.bp)
    return app


def state_of(app_or_state: Flask | EmulatorState) -> EmulatorState:
    """The EmulatorState behind an emulator app (or the state itself)."""
    if isinstance(app_or_state, EmulatorState):
        return app_or_state
    return app_or_state.extensions[EXTENSION]


_UNSET = object()


def configure(app_or_state: Flask | EmulatorState, *, voice_url=_UNSET, status_url=_UNSET, sms_url=_UNSET,
              numbers=_UNSET, speed=_UNSET, auto_answer_clients=_UNSET, undeliverable=_UNSET,
              voice_fallback_url=_UNSET, twiml_bins=_UNSET) -> EmulatorState:
    """Change where webhooks go (and the demo numbers, speed) after the emulator was created."""
    state = state_of(app_or_state)
    with state.lock:
        if voice_url is not _UNSET:
            state.voice_url = voice_url
        if status_url is not _UNSET:
            state.status_url = status_url
        if voice_fallback_url is not _UNSET:
            state.voice_fallback_url = voice_fallback_url
        if twiml_bins is not _UNSET:
            state.twiml_bins = dict(twiml_bins or {})
        if sms_url is not _UNSET:
            state.sms_url = sms_url
        if numbers is not _UNSET:
            state.numbers = list(numbers or [])
        if speed is not _UNSET:
            state.speed = float(speed)
        if auto_answer_clients is not _UNSET:
            state.auto_answer_clients = bool(auto_answer_clients)
        if undeliverable is not _UNSET:
            state.undeliverable = set(undeliverable or ())
    return state
