"""Absolute URLs as Twilio sees them."""

from flask import current_app, request


def public_base() -> str:
    """PUBLIC_BASE_URL when set; otherwise this request's origin as seen through trusted proxies."""
    return current_app.config.get("PUBLIC_BASE_URL") or request.url_root.rstrip("/")


def public_url(path: str) -> str:
    return public_base() + path


def public_request_url() -> str:
    """The URL Twilio signed for this request: public origin + path + query."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return request.url
    query = request.query_string.decode()
    return base + request.path + (f"?{query}" if query else "")


def consult_urls(call_id: int) -> dict:
    """Where hold and consult send a call's legs (callcenter/consult.py): absolute, for Twilio's REST API."""
    return {"agent_room": public_url(f"/ivr/agent-room/{call_id}"),
            "patient_room": public_url(f"/ivr/agent-room/{call_id}?room=patient"),
            "consult_leg": public_url(f"/ivr/consult-leg/{call_id}"),
            "consult_status": public_url(f"/ivr/consult-status/{call_id}"),
            "clinician_joins": public_url(f"/ivr/clinician-joins/{call_id}")}
