"""Twilio-shaped JSON for the emulator's REST resources (field names from the 2010-04-01 OpenAPI spec)."""

from __future__ import annotations

import re

from .state import API_VERSION, Call, CallQueue, Conference, EmulatorState, Message, Participant, QueueMember, rfc2822


def account_uri(account_sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{account_sid}"


def formatted(number: str) -> str:
    """Twilio's human formatting of a North American number; anything else unchanged."""
    match = re.fullmatch(r"\+1(\d{3})(\d{3})(\d{4})", number or "")
    return f"({match[1]}) {match[2]}-{match[3]}" if match else number


def call_json(state: EmulatorState, call: Call) -> dict:
    """A Call resource (state lock held)."""
    uri = f"{account_uri(call.account_sid)}/Calls/{call.sid}"
    duration = str(call.duration_seconds(state.speed)) if call.ended else None
    updated = call.end_time or call.start_time or call.date_created
    return {
        "sid": call.sid,
        "date_created": rfc2822(call.date_created),
        "date_updated": rfc2822(updated),
        "parent_call_sid": call.parent_sid,
        "account_sid": call.account_sid,
        "to": call.to,
        "to_formatted": formatted(call.to),
        "from": call.from_,
        "from_formatted": formatted(call.from_),
        "phone_number_sid": None,
        "status": call.status,
        "start_time": rfc2822(call.start_time),
        "end_time": rfc2822(call.end_time),
        "duration": duration,
        "price": None,
        "price_unit": "USD",
        "direction": call.direction,
        "answered_by": None,
        "api_version": API_VERSION,
        "forwarded_from": None,
        "group_sid": None,
        "caller_name": None,
        "queue_time": "0",
        "trunk_sid": None,
        "uri": uri + ".json",
        "subresource_uris": {
            "notifications": uri + "/Notifications.json",
            "recordings": uri + "/Recordings.json",
            "payments": uri + "/Payments.json",
            "events": uri + "/Events.json",
            "siprec": uri + "/Siprec.json",
            "streams": uri + "/Streams.json",
            "transcriptions": uri + "/Transcriptions.json",
            "user_defined_message_subscriptions": uri + "/UserDefinedMessageSubscriptions.json",
            "user_defined_messages": uri + "/UserDefinedMessages.json",
        },
    }


def message_json(message: Message) -> dict:
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
        "error_code": None,
        "price_unit": "USD",
        "api_version": API_VERSION,
        "subresource_uris": {"media": uri + "/Media.json", "feedback": uri + "/Feedback.json"},
    }


def queue_json(state: EmulatorState, queue: CallQueue) -> dict:
    """A Queue resource (state lock held)."""
    return {
        "date_updated": rfc2822(queue.date_updated),
        "current_size": len(queue.members),
        "friendly_name": queue.friendly_name,
        "uri": f"{account_uri(state.account_sid)}/Queues/{queue.sid}.json",
        "account_sid": state.account_sid,
        "average_wait_time": queue.average_wait(state.speed),
        "sid": queue.sid,
        "date_created": rfc2822(queue.date_created),
        "max_size": queue.max_size,
    }


def member_json(state: EmulatorState, queue: CallQueue, member: QueueMember, now_monotonic: float) -> dict:
    """A queue Member resource (state lock held)."""
    return {
        "call_sid": member.call_sid,
        "date_enqueued": rfc2822(member.date_enqueued),
        "position": queue.position(member.call_sid),
        "uri": f"{account_uri(state.account_sid)}/Queues/{queue.sid}/Members/{member.call_sid}.json",
        "wait_time": int((now_monotonic - member.enqueued_at) * state.speed),
        "queue_sid": queue.sid,
    }


def page_json(key: str, items: list, uri: str, page: int, page_size: int) -> dict:
    """One page of a list resource, in Twilio's paging envelope."""
    start = page * page_size
    chunk = items[start:start + page_size]
    more = start + page_size < len(items)
    return {
        key: chunk,
        "end": start + max(0, len(chunk) - 1),
        "first_page_uri": f"{uri}?PageSize={page_size}&Page=0",
        "next_page_uri": f"{uri}?PageSize={page_size}&Page={page + 1}" if more else None,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": f"{uri}?PageSize={page_size}&Page={page - 1}" if page else None,
        "start": start,
        "uri": f"{uri}?PageSize={page_size}&Page={page}",
    }


def conference_json(conference: Conference) -> dict:
    """A Conference resource (state lock held)."""
    uri = f"{account_uri(conference.account_sid)}/Conferences/{conference.sid}"
    return {
        "account_sid": conference.account_sid,
        "date_created": rfc2822(conference.date_created),
        "date_updated": rfc2822(conference.date_updated),
        "api_version": API_VERSION,
        "friendly_name": conference.friendly_name,
        "region": "us1",
        "sid": conference.sid,
        "status": conference.status,
        "uri": uri + ".json",
        "subresource_uris": {"participants": uri + "/Participants.json", "recordings": uri + "/Recordings.json"},
        "reason_conference_ended": conference.reason_ended,
        "call_sid_ending_conference": conference.call_sid_ending,
    }


def participant_json(conference: Conference, participant: Participant) -> dict:
    """A conference Participant resource (state lock held)."""
    return {
        "account_sid": conference.account_sid,
        "call_sid": participant.call_sid,
        "label": participant.label,
        "call_sid_to_coach": None,
        "coaching": False,
        "conference_sid": conference.sid,
        "date_created": rfc2822(participant.date_created),
        "date_updated": rfc2822(participant.date_updated),
        "end_conference_on_exit": participant.end_conference_on_exit,
        "muted": participant.muted,
        "hold": participant.hold,
        "start_conference_on_enter": participant.start_conference_on_enter,
        "status": "connected",
        "queue_time": "0",
        "uri": f"{account_uri(conference.account_sid)}/Conferences/{conference.sid}/Participants/"
               f"{participant.call_sid}.json",
    }
