"""Calling patients back: keep-my-place callbacks, abandoned calls, and the SMS that says when."""

from __future__ import annotations

from datetime import datetime, timedelta

import phonenumbers
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import ledger
from .calls import CALLBACK_DELAY, keep_place_task
from .gateway import GatewayError, TwilioGateway
from .hours import local_time
from .models import Call, CallbackTask, Practice, PracticeNumber
from .queue import CallQueue

RETRY_DELAY = CALLBACK_DELAY
# Written (not spoken) text, per language: only who will call and by when. A lock screen shows it to
# anyone near the phone, so the practice is named only when it opts in (practice configure --sms-names-practice).
CALLBACK_SMS = {
    "en": "We're sorry we missed your call to {practice}. We will call you back by {time}.",
    "es": "Lamentamos no haber atendido su llamada a {practice}. Le llamaremos antes de las {time}.",
}
CALLBACK_SMS_UNNAMED = {
    "en": "We're sorry we missed your call. We will call you back by {time}.",
    "es": "Lamentamos no haber atendido su llamada. Le llamaremos antes de las {time}.",
}


def callable_number(raw: str | None) -> str | None:
    """`raw` as E.164 if it is a number we could call back, else None (withheld, anonymous, client:...)."""
    if not raw:
        return None
    digits = raw.strip()
    try:
        parsed = phonenumbers.parse(digits if digits.startswith("+") else digits, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed) and not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def keep_place(session: Session, call: Call, number: str) -> CallbackTask:
    """The caller hangs up and keeps their place; the queue entry stays and becomes a callback."""
    task = keep_place_task(session, call)
    if task is None:
        task = CallbackTask(practice_id=call.practice_id, call_id=call.id, number=number, reason="keep_place",
                            keeps_place=True, due_at=ledger.now())
        session.add(task)
    else:
        task.number = number
    ledger.record(session, call, "kept_place", {}, dedupe_key="kept_place")
    call.state = "callback_waiting"
    return task


REFERENCE = {
    "en": " Reference {ref}: reply to this text to see how it stands.",
    "es": " Referencia {ref}: responda a este mensaje para saber cómo va.",
}
# The answer to a patient's reply: where their callback stands, in plain words, and nothing more.
STATUS = {
    "en": {"due": "Reference {ref}: we will call you back by {time}.",
           "late": "Reference {ref}: we have not reached you yet and are late. We will call you as soon as we "
                   "can. For emergencies dial 911.",
           "calling": "Reference {ref}: we are calling you back now.",
           # Done: called back, or the patient rang again and was served (callcenter/cases.py), or a supervisor
           # settled it (callcenter/worklist.py): what is true of all three.
           "done": "Reference {ref}: our staff dealt with it at {time}. If you still need us, please call."},
    "es": {"due": "Referencia {ref}: le llamaremos antes de las {time}.",
           "late": "Referencia {ref}: aún no le hemos localizado y vamos con retraso. Le llamaremos lo antes "
                   "posible. Para emergencias marque el 911.",
           "calling": "Referencia {ref}: le estamos llamando ahora.",
           "done": "Referencia {ref}: nuestro personal lo atendió a las {time}. Si aún nos necesita, llame por favor."},
}
STATUS_LOOK_BACK = timedelta(days=7)


def _clock(at: datetime, practice: Practice) -> str:
    return local_time(at, practice.timezone).strftime("%-I:%M %p").lower()


def callback_sms_text(practice: Practice, due_at: datetime, language: str, reference: int | None = None) -> str:
    """What the patient is told: who will call and by when, in the practice's local time, and the reference
    to reply with; nothing else."""
    texts = CALLBACK_SMS if practice.sms_names_practice else CALLBACK_SMS_UNNAMED
    text = texts.get(language, texts["en"]).format(practice=practice.name, time=_clock(due_at, practice))
    if reference is not None:
        text += REFERENCE.get(language, REFERENCE["en"]).format(ref=reference)
    return text


def status_reply(session: Session, from_number: str | None, to_number: str | None, body: str | None,
                 now: datetime) -> str | None:
    """A patient's text to a practice number: where their callback stands (the one whose reference they
    give, else their latest of the last week), or None when they are owed none."""
    number = callable_number(from_number)
    practice_id = session.scalar(select(PracticeNumber.practice_id).where(PracticeNumber.number == to_number))
    if number is None or practice_id is None:
        return None
    query = (select(CallbackTask).where(CallbackTask.practice_id == practice_id, CallbackTask.number == number,
                                        CallbackTask.created_at >= now - STATUS_LOOK_BACK)
             .order_by(CallbackTask.created_at.desc(), CallbackTask.id.desc()).limit(1))
    named = [int(word) for word in (body or "").replace("#", " ").split() if word.isdigit() and len(word) < 10]
    task = session.scalar(query.where(CallbackTask.call_id == named[0])) if named else None
    task = task or session.scalar(query)
    if task is None:
        return None
    practice = session.get(Practice, practice_id)
    call = session.get(Call, task.call_id) if task.call_id else None
    words = STATUS.get(call.language if call else "en", STATUS["en"])
    ref = task.call_id or task.id
    if task.status == "done":
        return words["done"].format(ref=ref, time=_clock(task.completed_at or now, practice))
    if task.status == "in_progress":
        return words["calling"].format(ref=ref)
    if task.due_at <= now:
        return words["late"].format(ref=ref)
    return words["due"].format(ref=ref, time=_clock(task.due_at, practice))


def send_callback_sms(session: Session, gateway: TwilioGateway, task_id: int) -> str | None:
    """Tell an abandoned caller when we will call back. Idempotent: sends at most once per task."""
    task = session.get(CallbackTask, task_id)
    if task is None or task.sms_sid or task.status == "done":
        return task.sms_sid if task else None
    number = callable_number(task.number)
    call = session.get(Call, task.call_id) if task.call_id else None
    practice = session.get(Practice, task.practice_id)
    if number is None or practice is None or not practice.numbers:
        return None
    try:
        task.sms_sid = gateway.send_sms(number, practice.numbers[0].number,
                                        callback_sms_text(practice, task.due_at, call.language if call else "en",
                                                          task.call_id or task.id))
    except GatewayError:
        return None  # the job is retried by RQ
    if call is not None:
        ledger.record(session, call, "callback_sms_sent", {"task": task.id})
    return task.sms_sid


def outbound_status(session: Session, queue: CallQueue, task: CallbackTask, status: str) -> None:
    """Progress of the call we placed to a patient.

    Unanswered: the task reopens for a later try. Answered, then hung up before an agent finished
    with them (e.g. holding again after the agent missed the bridge): abandoned, and the task reopens.
    """
    call = session.get(Call, task.call_id) if task.call_id else None
    if task.status != "in_progress" or status not in ("busy", "no-answer", "failed", "canceled", "completed"):
        return
    reached = call is not None and call.state in ("connected", "completed", "wrapped_up")
    if status == "completed" and reached:
        return  # the patient talked to the agent; the wrap-up completes the task
    task.status = "open"
    task.due_at = ledger.now() + RETRY_DELAY
    if call is not None:
        ledger.record(session, call, "callback_unanswered" if status != "completed" else "callback_dropped",
                      {"status": status})
        if call.state in ("queued", "connecting"):
            queue.remove(call.id)
            ledger.advance(call, "abandoned")


def find_by_outbound_sid(session: Session, call_sid: str) -> CallbackTask | None:
    return session.scalar(select(CallbackTask).where(CallbackTask.outbound_call_sid == call_sid))


def complete(session: Session, task: CallbackTask, user_id: int) -> None:
    """An agent called the patient back (by hand or through the console)."""
    if task.status == "done":
        return
    task.status, task.completed_at, task.completed_by_id = "done", ledger.now(), user_id
    call = session.get(Call, task.call_id) if task.call_id else None
    if call is not None:
        ledger.set_outcome(session, call, "callback_completed", actor_id=user_id)


class PendingNumbers:
    """A callback number the caller keyed in, kept until they confirm it (never in a URL)."""

    key = "cc:pending_callback:{}"
    ttl_seconds = 600

    def __init__(self, redis: Redis):
        self.redis = redis

    def keep(self, call_id: int, number: str) -> None:
        self.redis.set(self.key.format(call_id), number, ex=self.ttl_seconds)

    def get(self, call_id: int) -> str | None:
        value = self.redis.get(self.key.format(call_id))
        return value.decode() if value is not None else None

    def forget(self, call_id: int) -> None:
        self.redis.delete(self.key.format(call_id))
