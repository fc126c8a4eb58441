"""<Dial><Conference>: named rooms, waiting, moderators, leaving, and the Conferences REST resources."""

from __future__ import annotations

import pytest

from .conftest import ACCOUNT_SID, PATIENT, PRACTICE_NUMBER, say

DOCTOR = "client:dr-lee"


def account(client):
    return client.api.v2010.accounts(ACCOUNT_SID)


@pytest.fixture(autouse=True)
def doctors_browser(emulator):
    """Dr. Lee's browser is registered, and she picks up whatever rings it."""
    return emulator.answering(DOCTOR.removeprefix("client:"))


def join_as_doctor(client, room: str, **attributes) -> str:
    """The app calls the doctor's browser and puts them in `room`; return the new call's sid."""
    attrs = "".join(f' {name}="{value}"' for name, value in attributes.items())
    return account(client).calls.create(
        to=DOCTOR, from_=PRACTICE_NUMBER,
        twiml=f"<Response><Dial><Conference{attrs}>{room}</Conference></Dial></Response>").sid


def test_it_holds_the_first_caller_on_the_wait_url_and_bridges_the_second(emulator, twiml_app, twilio_client):
    twiml_app.route("/voice", '<Response><Dial action="/left"><Conference waitUrl="/wait" '
                              'statusCallback="/room-events" statusCallbackEvent="start end join leave">'
                              "room-7</Conference></Dial></Response>")
    twiml_app.route("/wait", '<Response><Say>Please wait for the doctor.</Say><Pause length="5"/></Response>')
    twiml_app.route("/left", lambda f: say(f"You left the room: {f['DialCallStatus']}."))
    patient = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    patient.wait_for("Please wait for the doctor.")
    assert patient.status()["display"] == "waiting for conference"
    assert twiml_app.requests_to("/wait")[0]["form"]["CallSid"] == patient.sid
    [room] = account(twilio_client).conferences.list(friendly_name="room-7")
    assert (room.status, room.sid[:2]) == ("init", "CF")
    [waiting] = account(twilio_client).conferences(room.sid).participants.list()
    assert (waiting.call_sid, waiting.start_conference_on_enter, waiting.muted) == (patient.sid, True, False)

    doctor_sid = join_as_doctor(twilio_client, "room-7", endConferenceOnExit="true")

    patient.wait_for_status("in conference (2 participants)")
    patient.wait_for("[conference started]")
    assert account(twilio_client).conferences(room.sid).fetch().status == "in-progress"
    assert {p.call_sid for p in account(twilio_client).conferences(room.sid).participants.list()} == {
        patient.sid, doctor_sid}
    account(twilio_client).calls(doctor_sid).update(status="completed")
    patient.wait_for("You left the room: completed.")
    [left] = twiml_app.requests_to("/left")
    assert left["form"]["DialCallDuration"].isdigit() and twiml_app.is_signed(left)
    ended = account(twilio_client).conferences(room.sid).fetch()
    assert (ended.status, ended.reason_conference_ended, ended.call_sid_ending_conference) == (
        "completed", "participant-with-end-conference-on-exit-left", doctor_sid)
    events = twiml_app.wait_for_request("/room-events", count=6)
    events.sort(key=lambda e: int(e["form"]["SequenceNumber"]))
    assert [(e["form"]["StatusCallbackEvent"], e["form"].get("CallSid")) for e in events] == [
        ("participant-join", patient.sid), ("participant-join", doctor_sid), ("conference-start", None),
        ("participant-leave", doctor_sid), ("conference-end", None), ("participant-leave", patient.sid)]
    assert all(e["form"]["ConferenceSid"] == room.sid and twiml_app.is_signed(e) for e in events)


def test_it_waits_for_a_moderator_and_ends_the_room_through_the_api(emulator, twiml_app, twilio_client):
    twiml_app.route("/voice", '<Response><Dial action="/left"><Conference startConferenceOnEnter="false">'
                              "huddle</Conference></Dial></Response>")
    twiml_app.route("/left", lambda f: say(f"Room over: {f['DialCallStatus']}."))
    first = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    first.wait_for("[hold music]")
    second = emulator.phone.dial("+15555550999", PRACTICE_NUMBER)
    second.wait_for("[joined conference huddle]")
    first.wait_for("[+15555550999 joined]")
    assert second.status()["display"] == "waiting for conference"  # two callers, but no moderator yet

    join_as_doctor(twilio_client, "huddle")

    first.wait_for_status("in conference (3 participants)")
    second.wait_for_status("in conference (3 participants)")
    [room] = account(twilio_client).conferences.list(status="in-progress")
    account(twilio_client).conferences(room.sid).update(status="completed")
    first.wait_for("Room over: completed.")
    second.wait_for("Room over: completed.")
    assert account(twilio_client).conferences(room.sid).fetch().reason_conference_ended == \
        "conference-ended-via-api"


def test_it_mutes_and_removes_a_participant(emulator, twiml_app, twilio_client):
    twiml_app.route("/voice", '<Response><Dial action="/left"><Conference waitUrl="">solo</Conference></Dial>'
                              "</Response>")
    twiml_app.route("/left", say("You were removed."))
    patient = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    patient.wait_for_status("waiting for conference")
    [room] = account(twilio_client).conferences.list()
    participant = account(twilio_client).conferences(room.sid).participants(patient.sid)

    assert participant.update(muted=True).muted is True
    assert account(twilio_client).conferences(room.sid).participants.list(muted=True)[0].call_sid == patient.sid
    assert participant.delete() is True

    patient.wait_for("You were removed.")
    assert account(twilio_client).conferences(room.sid).participants.list() == []
    ended = account(twilio_client).conferences(room.sid).fetch()
    assert (ended.status, ended.reason_conference_ended) == ("completed", "last-participant-kicked")


def test_it_lets_a_caller_leave_with_star_when_hang_up_on_star_is_set(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Dial hangupOnStar="true"><Conference waitUrl="">q</Conference></Dial>'
                              "<Say>Back in the menu.</Say></Response>")
    patient = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    patient.wait_for_status("waiting for conference")

    patient.press("*")

    patient.wait_for("Back in the menu.")
    assert patient.status()["conference"] is None


def test_it_refuses_a_verb_a_conference_wait_url_may_not_use(emulator, twiml_app):
    twiml_app.route("/voice", '<Response><Dial><Conference waitUrl="/wait">room</Conference></Dial></Response>')
    twiml_app.route("/wait", '<Response><Gather><Say>Press 1.</Say></Gather></Response>')

    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)

    [error] = call.wait_for_status("completed")["errors"]
    assert error["code"] == 13238 and "Gather" in error["message"]
    [room] = emulator.state.conferences.values()
    assert (room.status, room.participants) == ("completed", {})


def test_a_dial_leg_redirected_into_a_room_leaves_its_caller_at_the_dial_action(emulator, twiml_app, twilio_client):
    """Hold, the way the app does it: the agent's answered <Dial> leg goes to a room of its own; the
    caller's <Dial> ends as completed and its action puts the caller in another room, on hold music."""
    twiml_app.route("/voice", '<Response><Dial action="/bridge-ended"><Client>dr-lee</Client></Dial></Response>')
    twiml_app.route("/bridge-ended", lambda f: (
        f'<Response><Say>Bridge: {f["DialCallStatus"]}.</Say><Dial><Conference startConferenceOnEnter="false">'
        "patient-room</Conference></Dial></Response>"))
    patient = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    patient.wait_until(lambda s: s["connected_to"] == DOCTOR)
    [leg] = account(twilio_client).calls.list(parent_call_sid=patient.sid)

    account(twilio_client).calls(leg.sid).update(
        twiml='<Response><Dial><Conference waitUrl="">doctor-room</Conference></Dial></Response>')

    patient.wait_for("Bridge: completed.")
    patient.wait_for("[hold music]")  # nobody has started the patient's room
    assert account(twilio_client).calls(leg.sid).fetch().status == "in-progress"  # the leg lives on
    [room] = account(twilio_client).conferences.list(friendly_name="doctor-room")
    assert [p.call_sid for p in account(twilio_client).conferences(room.sid).participants.list()] == [leg.sid]

    account(twilio_client).calls(leg.sid).update(twiml="<Response><Dial><Conference>patient-room</Conference>"
                                                       "</Dial></Response>")  # back to the patient
    patient.wait_for_status("in conference (2 participants)")
    [talking] = account(twilio_client).conferences.list(friendly_name="patient-room", status="in-progress")
    held = account(twilio_client).conferences(talking.sid).participants(patient.sid).update(hold=True)
    assert held.hold is True
    patient.wait_for_status("on hold")
    account(twilio_client).conferences(talking.sid).participants(patient.sid).update(hold=False)
    patient.wait_for("[off hold]")
    patient.wait_for_status("in conference (2 participants)")


def test_a_dial_leg_that_still_rings_cannot_be_redirected(emulator, twiml_app, twilio_client):
    from twilio.base.exceptions import TwilioRestException

    emulator.state.client_ring_seconds = 10**6
    twiml_app.route("/voice", '<Response><Dial timeout="60"><Client>nobody-answers</Client></Dial></Response>')
    patient = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    patient.wait_until(lambda s: account(twilio_client).calls.list(parent_call_sid=patient.sid))
    [leg] = account(twilio_client).calls.list(parent_call_sid=patient.sid)
    with pytest.raises(TwilioRestException) as refused:
        account(twilio_client).calls(leg.sid).update(twiml="<Response><Hangup/></Response>")
    assert refused.value.code == 21220
