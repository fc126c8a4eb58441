"""Twilio webhooks: turn requests into domain calls and domain results into TwiML."""

from flask import Blueprint

bp = Blueprint("ivr", __name__, url_prefix="/ivr")
sms_bp = Blueprint("sms", __name__, url_prefix="/sms")

from . import views  # noqa: E402,F401
