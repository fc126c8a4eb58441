"""When the app itself is down: what callers hear, and the calls Twilio took meanwhile.

Each practice number's Fallback URL points at a TwiML Bin (`flask --app app twilio outage-bins` prints
it), which Twilio serves with nothing of ours up: the emergency advisory and a voicemail, then a second
Bin that thanks the caller. Nothing in them promises more than is true: someone calls back once the
service is back, because the worker then finds each of those calls through Twilio's REST API
(`take_in_calls_twilio_took`): a call with a recording becomes a voicemail that staff must review, one
without becomes an abandoned call with a callback owed, exactly as if the app had seen it hang up.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from . import call_status, ledger, voicemail
from .followups import FollowUps
from .gateway import GatewayError, TwilioGateway
from .models import Call, PracticeNumber
from .queue import CallQueue

log = logging.getLogger(__name__)

LOOK_EVERY = timedelta(minutes=10)
# The calls looked at: those that started this long ago at most. The callers were told "we will call you
# back", so an outage overnight or over a weekend day must be covered, not only the last hours.
LOOKBACK = timedelta(days=2)
LIST_LIMIT = 10_000  # Twilio lists newest first: a list this long may have left the oldest calls out
SETTLE = timedelta(minutes=2)  # a call that ended this recently may still have callbacks on their way
PER_ROUND = 50
FINAL = {"completed", "busy", "no-answer", "failed", "canceled"}
VOICEMAIL_SECONDS = 180

ADVISORY = ("You have reached the answering service. We are having a technical problem, so nobody can "
            "take your call right now. If this is a medical emergency, hang up and dial 9 1 1. Otherwise, "
            "please leave your name, your phone number and a short message after the tone, then press the "
            "pound key. We will call you back.")
SPANISH = ("Si es una emergencia médica, cuelgue y marque el 9 1 1. Si no, deje su nombre, su número y un "
           "mensaje después del tono. Le devolveremos la llamada.")
THANKS = "Thank you. Your message has been recorded, and we will call you back. Goodbye."
NOTHING_RECORDED = "We did not hear a message. If you need us, please call again. Goodbye."


def fallback_bin(thanks_url: str) -> str:
    """The TwiML Bin for each number's Fallback URL; `thanks_url` is the thanks Bin's own URL."""
    r = VoiceResponse()
    r.say(ADVISORY, voice="Polly.Joanna", language="en-US")
    r.say(SPANISH, voice="Polly.Lupe", language="es-US")
    r.record(action=thanks_url, method="POST", max_length=VOICEMAIL_SECONDS, finish_on_key="#", play_beep=True)
    r.say(NOTHING_RECORDED, voice="Polly.Joanna", language="en-US")
    r.hangup()
    return str(r)


def thanks_bin() -> str:
    """The TwiML Bin the voicemail ends on."""
    r = VoiceResponse()
    r.say(THANKS, voice="Polly.Joanna", language="en-US")
    r.hangup()
    return str(r)


def _known(session: Session, sids: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(sids), 500):
        chunk = sids[start:start + 500]
        known.update(session.scalars(select(Call.call_sid).where(Call.call_sid.in_(chunk))))
    return known


def calls_twilio_took(session: Session, gateway: TwilioGateway, now: datetime) -> list[dict]:
    """Finished calls to a practice's number that Twilio has and the ledger does not, oldest first."""
    listed = gateway.calls_started_since((now - LOOKBACK).date(), limit=LIST_LIMIT)
    if len(listed) >= LIST_LIMIT:
        log.error("outage check: Twilio listed %d calls, its limit; older calls to practices' numbers were not "
                  "checked against the ledger", len(listed))
    numbers = set(session.scalars(select(PracticeNumber.number)))
    finished = [c for c in listed
                if c["direction"] == "inbound" and c["to"] in numbers and c["status"] in FINAL
                and c["end_time"] is not None and c["end_time"] < now - SETTLE
                and (c["start_time"] or c["end_time"]) > now - LOOKBACK]
    known = _known(session, [c["sid"] for c in finished])
    unseen = [c for c in finished if c["sid"] not in known]
    return sorted(unseen, key=lambda c: c["start_time"] or c["end_time"])[:PER_ROUND]


def take_in(session: Session, queue: CallQueue, followups: FollowUps, gateway: TwilioGateway,
            taken: dict) -> Call:
    """Record one call Twilio took without us: its voicemail if it left one, then its end."""
    fields = {"CallSid": taken["sid"], "From": taken["from"], "To": taken["to"], "Direction": "inbound"}
    recordings = gateway.recordings(taken["sid"])
    if recordings:
        newest = recordings[0]
        _call, message = voicemail.recorded(session, {**fields, "RecordingUrl": newest["url"],
                                                      "RecordingSid": newest["sid"],
                                                      "RecordingDuration": str(newest["duration"])})
        if message is not None and message.transcription is None:  # the fallback Bin does not transcribe
            message.body = (f"Voicemail left while the service could not answer, {newest['duration']} seconds. "
                            "Not transcribed: listen to the recording.")
        session.commit()
    call_status.apply(session, queue, followups, {**fields, "CallStatus": taken["status"],
                                                  "CallDuration": str(taken["duration"] or 0),
                                                  "SequenceNumber": "99"})
    call = session.scalar(select(Call).where(Call.call_sid == taken["sid"]))
    ledger.record(session, call, "taken_while_app_down", {"recordings": len(recordings)},
                  dedupe_key="taken_while_app_down")
    # Its recordings have been asked for: the reconciler's check for lost voicemails need not ask again.
    ledger.record(session, call, "recordings_checked", {"found": len(recordings)}, dedupe_key="recordings_checked")
    session.commit()
    return call


def take_in_calls_twilio_took(session: Session, queue: CallQueue, followups: FollowUps, gateway: TwilioGateway,
                              now: datetime) -> list[int]:
    """The calls Twilio took while the app could not answer, recorded now; their ids."""
    try:
        unseen = calls_twilio_took(session, gateway, now)
    except GatewayError:
        return []
    taken = []
    for call in unseen:
        try:
            taken.append(take_in(session, queue, followups, gateway, call).id)
        except GatewayError:
            session.rollback()  # asked again next time
        except Exception as exc:  # this call only: the callers after it were told "we will call you back" too
            session.rollback()
            log.error("outage check: a call Twilio took could not be recorded (%s); tried again next time",
                      type(exc).__name__)
    return taken
