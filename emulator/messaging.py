"""SMS in both directions: the app's messages reach softphone inboxes; softphones text the app."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import requests

from .state import API_VERSION, EmulatorState, Message, new_sid, now
from .webhooks import WebhookFailure, send, send_quietly

logger = logging.getLogger("emulator.messaging")


def _status_params(message: Message) -> dict:
    extra = {"ErrorCode": str(message.error_code)} if message.error_code else {}
    return {**extra,
        "MessageSid": message.sid,
        "SmsSid": message.sid,
        "AccountSid": message.account_sid,
        "From": message.from_,
        "To": message.to,
        "MessageStatus": message.status,
        "SmsStatus": message.status,
        "ApiVersion": API_VERSION,
    }


def deliver_outbound(state: EmulatorState, message: Message) -> None:
    """Move a message sent through the REST API to sent, then delivered (or, to a number made
    undeliverable, undelivered with error 30003), reporting each step to its StatusCallback."""
    with state.lock:
        reachable = message.to not in state.undeliverable
    for status in ("sent", "delivered" if reachable else "undelivered"):
        with state.changed:
            message.status = status
            if status == "undelivered":
                message.error_code = 30003  # Unreachable destination handset
            if status == "sent":
                message.date_sent = now()
            state.changed.notify_all()
            params = _status_params(message)
        if message.status_callback:
            send_quietly(state.auth_token, message.status_callback, "POST", params, state.connect_timeout,
                         state.read_timeout)


def receive_inbound(state: EmulatorState, from_: str, to: str, body: str) -> Message:
    """A softphone texts `to`: create the message and start the app's "A message comes in" webhook."""
    message = Message(sid=new_sid("SM"), account_sid=state.account_sid, from_=from_, to=to, body=body,
                      direction="inbound", status="received")
    with state.changed:
        state.messages[message.sid] = message
        state.changed.notify_all()
    state.start_thread(_post_inbound, state, message, name="sms-inbound")
    return message


def _post_inbound(state: EmulatorState, message: Message) -> None:
    if not state.sms_url:
        logger.warning("an SMS arrived but no SMS URL is configured")
        return
    params = {
        "MessageSid": message.sid,
        "SmsSid": message.sid,
        "SmsMessageSid": message.sid,
        "AccountSid": message.account_sid,
        "From": message.from_,
        "To": message.to,
        "Body": message.body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": API_VERSION,
    }
    with requests.Session() as session:
        try:
            answer = send(session, state.auth_token, state.sms_url, "POST", params, state.connect_timeout,
                          state.read_timeout)
        except WebhookFailure as exc:
            logger.error("SMS webhook failed: error %s: %s", exc.code, exc.message)
            return
    for reply in _replies(answer.text):
        # A <Message> in the answer is a reply from the dialled number to the sender.
        sent = Message(sid=new_sid("SM"), account_sid=state.account_sid, from_=message.to, to=message.from_,
                       body=reply, direction="outbound-reply", status="delivered", date_sent=now())
        with state.changed:
            state.messages[sent.sid] = sent
            state.changed.notify_all()


def _replies(document: str) -> list[str]:
    if not document.strip():
        return []
    try:
        root = ET.fromstring(document)
    except ET.ParseError:
        logger.error("SMS webhook answered with invalid TwiML (error 12100)")
        return []
    replies = []
    for element in root:
        if element.tag == "Message":
            body = element.find("Body")
            text = body.text if body is not None else element.text
            if text and text.strip():
                replies.append(text.strip())
    return replies
