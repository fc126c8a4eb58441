"""What every Twilio-facing view shares: the signature check and the never-5xx guarantee."""

from __future__ import annotations

import logging
from functools import wraps

from flask import Response, current_app, request
from twilio.request_validator import RequestValidator

from callcenter.calls import find_by_leg
from callcenter.extensions import db
from callcenter.kept import is_transient, note_fault
from callcenter.models import SecurityEvent

from .urls import public_request_url

log = logging.getLogger(__name__)


def current_call():
    """The ledger's call for this webhook's CallSid (the patient's own call or our callback to them)."""
    return find_by_leg(db.session, request.form.get("CallSid", ""))


def form_int(name: str) -> int | None:
    """A non-negative integer field that fits the ledger's columns, or None (Twilio never sends more)."""
    value = request.form.get(name, type=int)
    return value if value is not None and 0 <= value < 2**31 else None


def keep_for_replay(kind: str) -> None:
    """Keep this webhook (callcenter/kept.py: in Redis, else in this machine's spool) for the worker."""
    try:
        current_app.kept.keep(kind, request.form)
    except Exception as exc:
        log.error("%s callback could neither be applied nor kept (%s); the reconciler asks Twilio about calls "
                  "left open and recordings without a message", kind, type(exc).__name__)


def twiml_response(xml: str, status: int = 200) -> Response:
    return Response(xml, status=status, mimetype="text/xml")


def signature_is_valid() -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"])
    return validator.validate(public_request_url(), request.form, signature)


def _record(kind: str, detail: str | None = None, fault: BaseException | None = None) -> None:
    """Keep a row of what happened, in its own transaction; never let that fail the answer. When the
    database itself is what failed (down, locked, timed out), the row is kept for the worker instead of
    waiting for the database a second time: the caller's answer must not wait twice."""
    if fault is not None and is_transient(fault):
        db.session.rollback()
        try:
            note_fault(current_app.redis, kind, request.path, detail)
        except Exception:
            log.warning("could not note %s for %s", kind, request.path)
        return
    try:
        db.session.rollback()
        db.session.add(SecurityEvent(kind=kind, path=request.path[:200], detail=(detail or "")[:400] or None))
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.warning("could not record %s for %s", kind, request.path)


def twilio_webhook(fallback):
    """Check the signature (403 and nothing else when bad); on any failure answer `fallback()` TwiML."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            current_app.kept.forward_now_and_then()
            if not signature_is_valid():
                _record("bad_signature")
                return Response("Forbidden: invalid Twilio signature\n", status=403, mimetype="text/plain")
            try:
                return view(*args, **kwargs)
            except Exception as exc:
                # The type only: exception text can carry patient data (numbers in SQL parameters).
                log.error("webhook %s failed with %s; answered safe TwiML", request.path, type(exc).__name__)
                _record("webhook_fault", type(exc).__name__, exc)
                return fallback()

        return wrapper

    return decorate
