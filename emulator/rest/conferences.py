"""The Conferences resource and its Participants: the rooms <Dial><Conference> joins, ended or muted here."""

from __future__ import annotations

from flask import jsonify, request

from .. import conference as rooms
from ..state import API_VERSION, Conference, EmulatorState, Participant, rfc2822
from .base import TwilioError, account_uri, bp, current_state, fetch, found, list_page


def conference_json(state: EmulatorState, conference: Conference) -> dict:
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


def participant_json(state: EmulatorState, entry: tuple[Conference, Participant]) -> dict:
    """A conference Participant resource, from (room, participant) (state lock held)."""
    conference, participant = entry
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


def _true_false(value: str | None) -> bool | None:
    return None if value is None else value.strip().lower() == "true"


def _participant(state: EmulatorState, conference_sid: str,
                 call_sid: str) -> tuple[Conference, Participant] | None:
    """(room, participant) for a call in a room, or None if either is unknown."""
    room = state.conferences.get(conference_sid)
    participant = room.participants.get(call_sid) if room else None
    return (room, participant) if participant else None


# Conferences -------------------------------------------------------------------------------------

@bp.get("/Conferences.json")
def list_conferences(account_sid):
    """Conference rooms, newest first, filtered by FriendlyName and Status as Twilio's list is."""
    name, status = request.args.get("FriendlyName"), request.args.get("Status")

    def matching(state: EmulatorState) -> list[Conference]:
        found_rooms = [c for c in state.conferences.values()
                       if name in (None, c.friendly_name) and status in (None, c.status)]
        return sorted(found_rooms, key=lambda c: c.date_created, reverse=True)

    return list_page("conferences", matching, conference_json)


@bp.get("/Conferences/<conference_sid>.json")
def fetch_conference(account_sid, conference_sid):
    """One conference room, live or ended."""
    return fetch(lambda state: state.conferences.get(conference_sid), conference_json)


@bp.post("/Conferences/<conference_sid>.json")
def update_conference(account_sid, conference_sid):
    """End a conference with Status=completed (announcements are not emulated)."""
    state = current_state()
    status = request.form.get("Status")
    if status not in (None, "completed"):
        raise TwilioError(400, 20001, "Status must be completed")
    with state.changed:
        room = found(state.conferences.get(conference_sid))
        events = rooms.end(state, room, "conference-ended-via-api") if status else []
        state.changed.notify_all()
        body = conference_json(state, room)
    rooms.send_events(state, events)
    return jsonify(body)


# Participants ------------------------------------------------------------------------------------

@bp.get("/Conferences/<conference_sid>/Participants.json")
def list_participants(account_sid, conference_sid):
    """Who is in the room now, in joining order, filtered by Muted and Hold."""
    muted, hold = _true_false(request.args.get("Muted")), _true_false(request.args.get("Hold"))

    def matching(state: EmulatorState) -> list[tuple[Conference, Participant]]:
        room = found(state.conferences.get(conference_sid))
        return [(room, p) for p in room.participants.values() if muted in (None, p.muted) and hold in (None, p.hold)]

    return list_page("participants", matching, participant_json)


@bp.get("/Conferences/<conference_sid>/Participants/<call_sid>.json")
def fetch_participant(account_sid, conference_sid, call_sid):
    """One participant of a room."""
    return fetch(lambda state: _participant(state, conference_sid, call_sid), participant_json)


@bp.post("/Conferences/<conference_sid>/Participants/<call_sid>.json")
def update_participant(account_sid, conference_sid, call_sid):
    """Mute or hold a participant, or change whether their leaving ends the room (the softphone's
    transcript says when hold music starts and stops; no audio is emulated)."""
    state = current_state()
    form = request.form
    with state.changed:
        entry = found(_participant(state, conference_sid, call_sid))
        room, participant = entry
        was_held = participant.hold
        events = rooms.set_flags(room, participant, _true_false(form.get("Muted")), _true_false(form.get("Hold")))
        if form.get("EndConferenceOnExit") is not None:
            participant.end_conference_on_exit = bool(_true_false(form.get("EndConferenceOnExit")))
        call = state.calls.get(call_sid)
        if call is not None and participant.hold != was_held:
            call.say("[hold music]" if participant.hold else "[off hold]", who="system")
        state.changed.notify_all()
        body = participant_json(state, entry)
    rooms.send_events(state, events)
    return jsonify(body)


@bp.delete("/Conferences/<conference_sid>/Participants/<call_sid>.json")
def remove_participant(account_sid, conference_sid, call_sid):
    """Kick a participant: their <Dial> ends and their call goes on to its action."""
    state = current_state()
    with state.changed:
        room, participant = found(_participant(state, conference_sid, call_sid))
        participant.removed = True
        state.changed.notify_all()
        # Answer once the call thread has taken the participant out, as Twilio answers after the kick.
        state.changed.wait_for(lambda: call_sid not in room.participants, timeout=5)
    return "", 204
