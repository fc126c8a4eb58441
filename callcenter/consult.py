"""Hold, consult and warm transfer: the patient waits in a conference room of their own while the agent
talks to the clinician on call in another, then the clinician joins the patient and the agent leaves.

Where everyone is, by `Call.hold`:
- None: patient and agent bridged by the connect TwiML's <Dial><Client>.
- "held": the agent's leg was redirected into the agent's room; the patient's <Dial> ended and
  `/ivr/dial-done` put them in the patient's room, where nobody has started the conference, so they
  hear hold music (Twilio's `waitUrl`).
- "rejoined": the agent's leg was redirected into the patient's room; the conference started, they talk.
- "held_again": from "rejoined", the patient's participant is on hold (hold music) and the agent is
  back in the agent's room.
- "joined": the clinician was redirected into the patient's room and the agent's leg hung up; the agent
  wraps up (as after a cold transfer) while the patient and the clinician talk.

The consult is the clinician's own call (`consult_call_sid`), placed into the agent's room; its status
callback (`consult_status`: ringing, talking) tells the agent when the clinician answers or does not.
Its webhooks carry the consult's reference (`consult_ref`, committed before the call is placed), since
Twilio may ring, and the clinician answer, before the call's sid is back from the REST API.
The agent leaves their room with endConferenceOnExit, so resuming the patient also ends a consult.

Every step writes the database before asking Twilio, and is undone when Twilio refuses: the webhooks
that Twilio sends in answer read it (a <Dial> ended by our own redirect must not end the call).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from . import calls, ledger, oncall
from .calls import Refused
from .gateway import GatewayError, TwilioGateway
from .models import Call, OnCallShift, User

HELD = ("held", "held_again")
TALKING = (None, "rejoined")


def patient_room(call_id: int) -> str:
    """The conference the patient waits in once they have been put on hold."""
    return f"call-{call_id}"


def agent_room(call_id: int) -> str:
    """The conference the agent waits in, and talks to the clinician in, while the patient holds."""
    return f"call-{call_id}-agent"


def _agents_call(session: Session, call_id: int, agent: User) -> Call:
    call = session.get(Call, call_id)
    if call is None or (call.agent_id != agent.id and agent.role == "agent"):
        raise Refused("This is not your call.")
    if call.state != "connected":
        raise Refused("The caller is not connected.")
    if not call.agent_leg_sid:
        raise Refused("Your audio is not connected yet. Wait a moment and try again.")
    return call


def hold(session: Session, gateway: TwilioGateway, call_id: int, agent: User, urls: dict) -> Call:
    """Put the patient on hold: they hear hold music; the agent's line goes quiet.

    `urls` holds the agent's-room TwiML URLs, "agent_room" and "patient_room" (see ivr.connect_views)."""
    call = _agents_call(session, call_id, agent)
    if call.hold in HELD:
        raise Refused("The caller is already on hold.")
    if call.hold not in TALKING:
        raise Refused("The caller has been transferred.")
    _put_on_hold(session, gateway, call, agent, urls)
    return call


def _put_on_hold(session: Session, gateway: TwilioGateway, call: Call, agent: User, urls: dict) -> None:
    was = call.hold
    call.hold = "held" if was is None else "held_again"
    session.commit()  # before Twilio's answer: /ivr/dial-done must find the patient being held
    try:
        if was == "rejoined":
            room = patient_room(call.id)
            gateway.update_participant(room, calls.live_leg(session, call), hold=True)
            # The agent's leaving must not end the patient's room this time.
            gateway.update_participant(room, call.agent_leg_sid, end_conference_on_exit=False)
        gateway.redirect_call(call.agent_leg_sid, urls["agent_room"])
    except GatewayError:
        call.hold = was
        session.commit()
        raise Refused("Could not put the caller on hold; they may have hung up. Try again.") from None
    ledger.record(session, call, "held", {"by": agent.id}, actor_id=agent.id)


def resume(session: Session, gateway: TwilioGateway, call_id: int, agent: User, urls: dict) -> Call:
    """Back to the patient: the agent joins the patient's room (a consult still going ends with it)."""
    call = _agents_call(session, call_id, agent)
    if call.hold not in HELD:
        raise Refused("The caller is not on hold.")
    was, consult, ref, status = call.hold, call.consult_call_sid, call.consult_ref, call.consult_status
    call.hold, call.consult_call_sid, call.consult_ref, call.consult_status = "rejoined", None, None, None
    session.commit()
    try:
        gateway.redirect_call(call.agent_leg_sid, urls["patient_room"])
        if was == "held_again":
            gateway.update_participant(patient_room(call.id), calls.live_leg(session, call), hold=False)
    except GatewayError:
        call.hold, call.consult_call_sid, call.consult_ref, call.consult_status = was, consult, ref, status
        session.commit()
        raise Refused("Could not take the caller off hold; they may have hung up.") from None
    if ref:
        end_quietly(gateway, consult)  # the clinician's call, if it still rings
        ledger.record(session, call, "consult_ended", {"why": "agent went back to the caller"}, actor_id=agent.id)
    ledger.record(session, call, "resumed", {"by": agent.id}, actor_id=agent.id)
    return call


def consult(session: Session, gateway: TwilioGateway, call_id: int, agent: User, urls: dict,
            now: datetime) -> OnCallShift:
    """Warm transfer, first step: the patient holds while the clinician on call now is rung into the
    agent's room. `urls` also holds "consult_leg" and "consult_status" for the clinician's call."""
    call = _agents_call(session, call_id, agent)
    if call.hold == "joined":
        raise Refused("The caller has been transferred.")
    if call.consult_ref:
        raise Refused("You are already calling the clinician.")
    shift = oncall.current_shift(session, call.practice_id, now) if call.practice_id is not None else None
    if shift is None:
        raise Refused("Nobody is on call for this practice now. Take an urgent message instead.")
    if call.hold in TALKING:
        _put_on_hold(session, gateway, call, agent, urls)
    ref = secrets.token_hex(8)
    call.consult_ref, call.consult_status, call.consult_call_sid = ref, "ringing", None
    ledger.record(session, call, "consult_started",
                  {"shift": shift.id, "clinician": shift.clinician_name, "by": agent.id}, actor_id=agent.id)
    session.commit()  # before Twilio's first webhook for the clinician's call, which names this ref
    try:
        sid = gateway.place_call(shift.number, call.to_number or "", f"{urls['consult_leg']}?ref={ref}",
                                 status_callback=f"{urls['consult_status']}?ref={ref}")
    except GatewayError:
        call.consult_ref, call.consult_status = None, None
        ledger.record(session, call, "consult_ended", {"why": "could not call the clinician"}, actor_id=agent.id)
        session.commit()
        raise Refused(f"Could not call {shift.clinician_name}. The caller is on hold; go back to them.") from None
    session.refresh(call)  # the clinician may have answered already
    if call.consult_ref == ref and not call.consult_call_sid:
        call.consult_call_sid = sid
    return shift


def complete_transfer(session: Session, gateway: TwilioGateway, call_id: int, agent: User, join_url: str) -> str:
    """Warm transfer, last step: the clinician joins the patient; the agent leaves and wraps up.
    Returns the clinician's name."""
    call = _agents_call(session, call_id, agent)
    if not call.consult_call_sid or call.consult_status != "talking":
        raise Refused("The clinician is not on the line with you yet.")
    was = call.hold
    clinician = consulted_clinician(call)
    call.hold = "joined"
    session.commit()
    try:
        gateway.redirect_call(call.consult_call_sid, join_url)
    except GatewayError:
        call.hold = was
        session.commit()
        raise Refused("Could not put the clinician through; they may have hung up. Go back to the caller.") from None
    if was == "held_again":
        try:
            gateway.update_participant(patient_room(call.id), calls.live_leg(session, call), hold=False)
        except GatewayError:
            pass  # the clinician joined the room; the patient's hold ends when Twilio answers again
    end_quietly(gateway, call.agent_leg_sid)
    ledger.record(session, call, "transfer_completed",
                  {"clinician": clinician, "by": agent.id, "mode": "warm"}, actor_id=agent.id)
    ledger.advance(call, "completed")
    return clinician


def consulted_clinician(call: Call) -> str | None:
    """Who the agent called in this consult (the last consult's clinician)."""
    started = [e for e in call.events if e.kind == "consult_started"]
    return started[-1].data.get("clinician") if started else None


def is_consult(call: Call, ref: str | None, call_sid: str) -> bool:
    """Whether a webhook naming `ref` is the clinician's call of the consult going on now (and not of one
    the agent has already left); its sid is kept the first time it is seen."""
    if not ref or ref != call.consult_ref:
        return False
    if not call.consult_call_sid and call_sid:
        call.consult_call_sid = call_sid
    return True


def consult_leg_changed(session: Session, call: Call, ref: str | None, call_sid: str, status: str) -> bool:
    """The clinician's call reported `status`; True when the agent should hear of it."""
    if not is_consult(call, ref, call_sid):
        return False
    if status == "in-progress" and call.consult_status != "talking":
        call.consult_status = "talking"
        ledger.record(session, call, "consult_answered", {"clinician": consulted_clinician(call)},
                      dedupe_key=f"consult_answered:{call_sid}")
        return True
    if status in ("completed", "busy", "no-answer", "failed", "canceled") and call.hold != "joined":
        answered = call.consult_status == "talking"
        call.consult_call_sid, call.consult_ref, call.consult_status = None, None, None
        ledger.record(session, call, "consult_ended",
                      {"why": "clinician hung up" if answered else f"clinician {status}"},
                      dedupe_key=f"consult_ended:{call_sid}")
        return True
    return False


def agent_left(session: Session, call: Call, call_sid: str) -> bool:
    """The agent's leg ended. With the patient on hold that leaves nobody to come back for them:
    True when the patient must be put back in line (the caller keeps their place)."""
    if call_sid != call.agent_leg_sid or call.state != "connected" or call.hold not in HELD:
        return False
    ledger.record(session, call, "agent_left_caller_on_hold", {"agent": call.agent_id},
                  dedupe_key=f"agent_left:{call_sid}")
    return True


def forget(call: Call) -> str | None:
    """The call goes back in line: the next agent starts with no hold, no consult and no leg of theirs.
    Returns the sid of the clinician's call of a consult that was still going, for the caller to end."""
    clinician = call.consult_call_sid
    call.hold = call.agent_leg_sid = call.consult_call_sid = call.consult_ref = call.consult_status = None
    return clinician


def end_quietly(gateway: TwilioGateway, call_sid: str | None) -> None:
    """Hang up a leg that may have ended already."""
    if not call_sid:
        return
    try:
        gateway.end_call(call_sid)
    except GatewayError:
        pass  # already ended
