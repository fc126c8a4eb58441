"""The practice JSON API: one key, one practice, read-only.

Stateless: a Bearer key on every request, no session, no cookies, so no CSRF either.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, g, jsonify, request

from callcenter.accounts import find_api_key
from callcenter.extensions import csrf, db
from callcenter.models import Call, Message, SecurityEvent
from callcenter.queue import PRIORITY_URGENT
from callcenter.scoping import PracticeScope

from . import api_bp, params
from .openapi import document as openapi_document

csrf.exempt(api_bp)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with offset, in UTC, to the second."""
    return value.astimezone(UTC).isoformat(timespec="seconds") if value is not None else None


def call_json(call: Call, message_ids: list[int]) -> dict:
    return {
        "id": call.id,
        "from": call.from_number,
        "to": call.to_number,
        "direction": call.direction,
        "state": call.state,
        "outcome": call.outcome,
        "reason": call.reason,
        "priority": "urgent" if call.priority >= PRIORITY_URGENT else "routine",
        "disposition": call.disposition,
        "notes": call.notes,
        "created_at": iso(call.created_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "duration_seconds": call.duration_seconds,
        "message_ids": message_ids,
    }


def message_json(message: Message) -> dict:
    return {
        "id": message.id,
        "call_id": message.call_id,
        "urgency": message.urgency,
        "caller_name": message.caller_name,
        "callback_number": message.callback_number,
        "body": message.body,
        "created_at": iso(message.created_at),
        "delivered_at": iso(message.delivered_at),
        "acknowledged_at": iso(message.acknowledged_at),
    }


def _error(status: int, text: str, **extra):
    response = jsonify({"error": text, **extra})
    response.status_code = status
    return response


def _unauthorized(text: str, challenge: str):
    response = _error(401, text)
    response.headers["WWW-Authenticate"] = challenge
    return response


@api_bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI 3.1 description (no key needed: it holds no patient data)."""
    return jsonify(openapi_document())


@api_bp.before_request
def authenticate_key():
    """Every API request carries `Authorization: Bearer <key>` for one practice."""
    if request.endpoint == "api.openapi":
        return None
    scheme, _, plain = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not plain.strip():
        return _unauthorized("send an API key: Authorization: Bearer <key>", "Bearer")
    key = find_api_key(db.session, plain.strip())
    if key is None:
        # The key itself is a secret: record that one was refused, never its text.
        db.session.add(SecurityEvent(kind="api_key_refused", path=request.path[:200]))
        db.session.commit()
        return _unauthorized("this API key is not valid or has been revoked", 'Bearer error="invalid_token"')
    g.scope = PracticeScope(db.session, key.practice_id, api_key_id=key.id)
    g.key_can_write = key.can_write
    return None


@api_bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@api_bp.errorhandler(params.BadParameter)
def bad_parameter(exc: params.BadParameter):
    return _error(400, str(exc), parameter=exc.name)


@api_bp.errorhandler(404)
def not_found(_exc):
    # The same answer for a missing id and another practice's id.
    return _error(404, "not found")


def _range() -> tuple[datetime | None, datetime | None]:
    since = params.iso_time("since", request.args.get("since"))
    until = params.iso_time("until", request.args.get("until"))
    params.time_range(since, until)
    return since, until


def _listing(items: list[dict], page) -> dict:
    return {"data": items, "page": page.number, "next_page": page.next_page}


@api_bp.get("/calls")
def calls():
    """The practice's calls, newest first: `since`, `until` (ISO 8601), `status`, `page`."""
    since, until = _range()
    status = params.call_status(request.args.get("status"))
    page = g.scope.calls(since=since, until=until, status=status, page=params.page_number(request.args.get("page")))
    message_ids = g.scope.message_ids_by_call(c.id for c in page.items)
    body = _listing([call_json(c, message_ids[c.id]) for c in page.items], page)
    db.session.commit()  # the audit entries
    return jsonify(body)


@api_bp.get("/calls/<call_id>")
def call(call_id: str):
    """One call with its events."""
    found = g.scope.call(params.object_id(call_id))
    if found is None:
        db.session.commit()  # a look at another practice's is audited as refused
        abort(404)
    body = call_json(found, g.scope.message_ids_by_call([found.id])[found.id])
    body["events"] = [{"kind": e.kind, "at": iso(e.at), "data": e.data or {}} for e in found.events]
    db.session.commit()
    return jsonify(body)


@api_bp.get("/messages")
def messages():
    """The practice's messages, newest first: `since`, `until` (ISO 8601), `page`."""
    since, until = _range()
    page = g.scope.messages(since=since, until=until, page=params.page_number(request.args.get("page")))
    body = _listing([message_json(m) for m in page.items], page)
    db.session.commit()
    return jsonify(body)


@api_bp.get("/messages/<message_id>")
def message(message_id: str):
    """One message."""
    found = g.scope.message(params.object_id(message_id))
    if found is None:
        db.session.commit()  # a look at another practice's is audited as refused
        abort(404)
    body = message_json(found)
    db.session.commit()
    return jsonify(body)


@api_bp.post("/messages/<message_id>/acknowledge")
def acknowledge(message_id: str):
    """Acknowledge a message (a key made with `apikey create --write`); acknowledging it again changes nothing."""
    if not g.key_can_write:
        return _error(403, "this API key may only read: make one with `apikey create --write` to acknowledge")
    found = g.scope.message(params.object_id(message_id))
    if found is None:
        db.session.commit()
        abort(404)
    g.scope.acknowledge([found.id], datetime.now(UTC))
    body = message_json(found)
    db.session.commit()
    return jsonify(body)
