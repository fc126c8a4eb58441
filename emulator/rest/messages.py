"""The Messages resource: send an SMS to a softphone's inbox, list and fetch messages."""

from __future__ import annotations

import threading

from flask import jsonify, request

from ..messaging import deliver_outbound
from ..state import API_VERSION, EmulatorState, Message, new_sid, rfc2822
from .base import TwilioError, account_uri, bp, current_state, fetch, list_page

MAX_BODY = 1600  # characters, all segments together


def message_json(state: EmulatorState, message: Message) -> dict:
    """A Message resource (state lock held)."""
    uri = f"{account_uri(message.account_sid)}/Messages/{message.sid}"
    return {
        "body": message.body,
        "num_segments": str(max(1, -(-len(message.body) // 160))),
        "direction": message.direction,
        "from": message.from_,
        "to": message.to,
        "date_updated": rfc2822(message.date_sent or message.date_created),
        "price": None,
        "error_message": None,
        "uri": uri + ".json",
        "account_sid": message.account_sid,
        "num_media": "0",
        "status": message.status,
        "messaging_service_sid": None,
        "sid": message.sid,
        "date_sent": rfc2822(message.date_sent),
        "date_created": rfc2822(message.date_created),
        "error_code": message.error_code,
        "price_unit": "USD",
        "api_version": API_VERSION,
        "subresource_uris": {"media": uri + "/Media.json", "feedback": uri + "/Feedback.json"},
    }


@bp.post("/Messages.json")
def create_message(account_sid):
    """Send an SMS: it lands in the inbox of the softphone with number To."""
    state = current_state()
    form = request.form
    to = form.get("To", "").strip()
    from_ = form.get("From", "").strip() or form.get("MessagingServiceSid", "").strip()
    body = form.get("Body", "")
    if not to:
        raise TwilioError(400, 21604, "A 'To' phone number is required.")
    if not from_:
        raise TwilioError(400, 21603, "A 'From' phone number is required.")
    if not body.strip():
        raise TwilioError(400, 21602, "Message body is required.")
    if len(body) > MAX_BODY:
        raise TwilioError(400, 21617, f"The concatenated message body exceeds the {MAX_BODY} character limit.")
    message = Message(sid=new_sid("SM"), account_sid=account_sid, from_=from_, to=to, body=body,
                      direction="outbound-api", status_callback=form.get("StatusCallback") or None)
    with state.changed:
        state.messages[message.sid] = message
        response = message_json(state, message)
    threading.Thread(target=deliver_outbound, args=(state, message), daemon=True).start()
    return jsonify(response), 201


@bp.get("/Messages.json")
def list_messages(account_sid):
    """List messages, newest first, filtered by To and From."""
    to, from_ = request.args.get("To"), request.args.get("From")

    def matching(state: EmulatorState) -> list[Message]:
        messages = [m for m in state.messages.values() if to in (None, m.to) and from_ in (None, m.from_)]
        return sorted(messages, key=lambda m: m.date_created, reverse=True)

    return list_page("messages", matching, message_json)


@bp.get("/Messages/<message_sid>.json")
def fetch_message(account_sid, message_sid):
    """One message."""
    return fetch(lambda state: state.messages.get(message_sid), message_json)
