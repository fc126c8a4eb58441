"""The Queues resource and its Members: what <Enqueue> fills, and dequeuing a caller to new TwiML."""

from __future__ import annotations

import time

from flask import jsonify, request

from ..state import CallQueue, EmulatorState, QueueMember, rfc2822
from .base import TwilioError, account_uri, bp, current_state, fetch, found, list_page

MAX_SIZE_LIMIT = 5000  # Twilio's ceiling for a queue's MaxSize


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


def member_json(state: EmulatorState, entry: tuple[CallQueue, QueueMember]) -> dict:
    """A queue Member resource, from (queue, member) (state lock held)."""
    queue, member = entry
    return {
        "call_sid": member.call_sid,
        "date_enqueued": rfc2822(member.date_enqueued),
        "position": queue.position(member.call_sid),
        "uri": f"{account_uri(state.account_sid)}/Queues/{queue.sid}/Members/{member.call_sid}.json",
        "wait_time": int((time.monotonic() - member.enqueued_at) * state.speed),
        "queue_sid": queue.sid,
    }


def _set_max_size(queue: CallQueue, value: str | None) -> None:
    if value is None:
        return
    if not value.isdigit() or not 1 <= int(value) <= MAX_SIZE_LIMIT:
        raise TwilioError(400, 20001, f"MaxSize must be between 1 and {MAX_SIZE_LIMIT}")
    queue.max_size = int(value)


def _member(state: EmulatorState, queue_sid: str, call_sid: str) -> tuple[CallQueue, QueueMember] | None:
    """(queue, member) for a member's call sid, or `Front` for whoever waits longest; None if absent."""
    queue = state.queue_by_sid(queue_sid)
    if queue is None or not queue.members:
        return None
    if call_sid == "Front":
        return queue, queue.members[0]
    member = next((m for m in queue.members if m.call_sid == call_sid), None)
    return (queue, member) if member else None


# Queues ------------------------------------------------------------------------------------------

@bp.get("/Queues.json")
def list_queues(account_sid):
    """Every queue."""
    return list_page("queues", lambda state: state.queues.values(), queue_json)


@bp.post("/Queues.json")
def create_queue(account_sid):
    """Create a queue by FriendlyName (<Enqueue> also creates one on first use)."""
    state = current_state()
    name = request.form.get("FriendlyName", "").strip()
    if not name:
        raise TwilioError(400, 20001, "Missing required parameter FriendlyName in the post body")
    with state.lock:
        if name in state.queues:
            raise TwilioError(400, 22003, "A queue with this friendly name already exists")
        queue = state.queue_by_name(name)
        _set_max_size(queue, request.form.get("MaxSize"))
        return jsonify(queue_json(state, queue)), 201


@bp.get("/Queues/<queue_sid>.json")
def fetch_queue(account_sid, queue_sid):
    """One queue."""
    return fetch(lambda state: state.queue_by_sid(queue_sid), queue_json)


@bp.post("/Queues/<queue_sid>.json")
def update_queue(account_sid, queue_sid):
    """Change a queue's MaxSize or FriendlyName."""
    state = current_state()
    with state.lock:
        queue = found(state.queue_by_sid(queue_sid))
        _set_max_size(queue, request.form.get("MaxSize"))
        name = request.form.get("FriendlyName")
        if name and name != queue.friendly_name:
            state.queues[name] = state.queues.pop(queue.friendly_name)
            queue.friendly_name = name
        return jsonify(queue_json(state, queue))


# Members -----------------------------------------------------------------------------------------

@bp.get("/Queues/<queue_sid>/Members.json")
def list_members(account_sid, queue_sid):
    """The callers in a queue, front first."""

    def members(state: EmulatorState) -> list[tuple[CallQueue, QueueMember]]:
        queue = found(state.queue_by_sid(queue_sid))
        return [(queue, member) for member in queue.members]

    return list_page("queue_members", members, member_json)


@bp.get("/Queues/<queue_sid>/Members/<call_sid>.json")
def fetch_member(account_sid, queue_sid, call_sid):
    """One caller in a queue (`Front` for the one at the front)."""
    return fetch(lambda state: _member(state, queue_sid, call_sid), member_json)


@bp.post("/Queues/<queue_sid>/Members/<call_sid>.json")
def dequeue_member(account_sid, queue_sid, call_sid):
    """Take a caller out of the queue and run the TwiML at Url for them."""
    state = current_state()
    url = request.form.get("Url")
    if not url:
        raise TwilioError(400, 20001, "Missing required parameter Url in the post body")
    with state.changed:
        entry = found(_member(state, queue_sid, call_sid))
        body = member_json(state, entry)
        call = state.calls[entry[1].call_sid]
        call.redirect = {"url": url, "method": request.form.get("Method", "POST")}
        state.changed.notify_all()
    return jsonify(body)
