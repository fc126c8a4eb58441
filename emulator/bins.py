"""TwiML Bins: documents Twilio hosts itself, at an address of its own (handler.twilio.com/twiml/EH…).

They answer any call that asks, with no app behind them: what a number's Fallback URL points at, so that
callers are still told something true when the app is down. Here they are served at /twiml/<sid>, as set
with `configure(app, twiml_bins={"EH…": "<Response>…</Response>"})`.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort

from .state import EmulatorState

bp = Blueprint("twiml_bins", __name__)


def _state() -> EmulatorState:
    from flask import current_app

    from . import state_of

    return state_of(current_app)


@bp.route("/twiml/<bin_sid>", methods=["GET", "POST"])
def serve(bin_sid: str):
    document = _state().twiml_bins.get(bin_sid)
    if document is None:
        abort(404)
    return Response(document, mimetype="text/xml")
