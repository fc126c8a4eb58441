"""Browser devices: what the Twilio Voice SDK's `Device` does against Twilio, over plain HTTP here.

A console registers with an access token (the JWT the app signs for Twilio, here checked against
the emulator's auth token), learns of calls ringing its identity (`<Dial><Client>`), and accepts,
rejects or hangs them up. A client leg whose identity has no registered device rings until the
Dial times out, as on Twilio (unless the emulator was told to answer clients by itself, for load
generators that stand in for a thousand browsers).

    POST /device/api/register            {token}        -> {identity, expires}
    POST /device/api/unregister          {token}
    GET  /device/api/incoming            (Bearer token) -> {calls: [{sid, from, parameters}]}
    POST /device/api/calls/<sid>/accept|reject|disconnect|mute   (Bearer token)
    GET  /device/api/calls/<sid>         (Bearer token) -> the leg's state

Browsers call these from the app's origin, so the answers carry CORS headers; the token is the
only credential (no cookies).
"""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request
from twilio.jwt import Jwt, JwtDecodeError

from .phone import _error, _state
from .state import Call, EmulatorState

bp = Blueprint("devices", __name__)
NOT_AUTHORISED = "the access token is not valid for this account (or has expired)"


@bp.after_request
def _cors(response):
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    return response


@bp.route("/device/api/<path:_any>", methods=["OPTIONS"])
def _preflight(_any):
    return "", 204


def identity_of(state: EmulatorState, token: str) -> str | None:
    """The identity a Voice access token grants incoming calls to, if the emulator's account signed it."""
    try:
        payload = Jwt.from_jwt(token, state.auth_token).payload
    except (JwtDecodeError, ValueError, TypeError):
        return None
    grants = payload.get("grants") or {}
    incoming = ((grants.get("voice") or {}).get("incoming") or {}).get("allow")
    if payload.get("sub") != state.account_sid or not incoming or not grants.get("identity"):
        return None
    if float(payload.get("exp", 0)) < time.time():
        return None
    return str(grants["identity"])


def _token() -> str:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:]
    data = request.get_json(silent=True) or {}
    return str(data.get("token") or "")


def _device_identity() -> str | None:
    return identity_of(_state(), _token())


def _ringing_for(state: EmulatorState, identity: str) -> list[Call]:
    to = f"client:{identity}"
    return [c for c in state.calls.values()
            if c.to == to and not c.ended and c.answered_at is None and not c.answer_requested
            and not c.decline_requested and not c.hangup_requested and c.status in {"queued", "initiated", "ringing"}]


def _leg_view(state: EmulatorState, call: Call) -> dict:
    parent = state.calls.get(call.parent_sid) if call.parent_sid else None
    return {"sid": call.sid, "from": parent.from_ if parent else call.from_, "to": call.to,
            "status": call.status, "ended": call.ended, "connected": call.answered_at is not None and not call.ended,
            "connected_to": call.connected_to, "muted": call.muted,
            "parameters": {"CallSid": call.sid, "From": parent.from_ if parent else call.from_, "To": call.to,
                           **call.client_parameters}}


@bp.post("/device/api/register")
def register():
    state = _state()
    identity = _device_identity()
    if identity is None:
        return _error(401, NOT_AUTHORISED)
    payload = Jwt.from_jwt(_token(), state.auth_token).payload
    with state.changed:
        state.devices[identity] = float(payload["exp"])
        state.changed.notify_all()
    return jsonify({"identity": identity, "expires": payload["exp"]})


@bp.post("/device/api/unregister")
def unregister():
    state = _state()
    identity = _device_identity()
    if identity is None:
        return _error(401, NOT_AUTHORISED)
    with state.changed:
        state.devices.pop(identity, None)
        state.changed.notify_all()
    return jsonify({"identity": identity})


@bp.get("/device/api/incoming")
def incoming():
    state = _state()
    identity = _device_identity()
    if identity is None:
        return _error(401, NOT_AUTHORISED)
    with state.lock:
        state.devices[identity] = max(state.devices.get(identity, 0.0), time.time())
        return jsonify({"identity": identity, "calls": [_leg_view(state, c) for c in _ringing_for(state, identity)]})


def _own_leg(sid: str) -> tuple[EmulatorState, Call | None, str | None]:
    state = _state()
    identity = _device_identity()
    call = state.calls.get(sid)
    if identity is None or call is None or call.to != f"client:{identity}":
        return state, None, identity
    return state, call, identity


@bp.get("/device/api/calls/<sid>")
def leg(sid):
    state, call, identity = _own_leg(sid)
    if identity is None:
        return _error(401, NOT_AUTHORISED)
    if call is None:
        return _error(404, "no such call for this device")
    with state.lock:
        return jsonify(_leg_view(state, call))


def _act(sid: str, action: str):
    state, call, identity = _own_leg(sid)
    if identity is None:
        return _error(401, NOT_AUTHORISED)
    if call is None:
        return _error(404, "no such call for this device")
    with state.changed:
        if call.ended:
            return _error(409, "the call has ended")
        if action == "accept":
            call.answer_requested = True
        elif action == "reject":
            call.decline_requested = True
        elif action == "disconnect":
            if call.answered_at is None and not call.answer_requested:
                call.decline_requested = True
            else:
                call.hangup_requested = True
        elif action == "mute":
            call.muted = bool((request.get_json(silent=True) or {}).get("muted", True))
        state.changed.notify_all()
        return jsonify(_leg_view(state, call))


@bp.post("/device/api/calls/<sid>/<action>")
def act(sid, action):
    if action not in {"accept", "reject", "disconnect", "mute"}:
        return _error(404, "no such action")
    return _act(sid, action)
