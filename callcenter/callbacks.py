"""Calling patients back: keep-my-place callbacks, abandoned calls, and the SMS that says when."""

from __future__ import annotations

from datetime import datetime

import phonenumbers
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import ledger
from .calls import CALLBACK_DELAY, keep_place_task
from .gateway import GatewayError, TwilioGateway
from .hours import local_time
from .models import Call, CallbackTask, Practice
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


def callback_sms_text(practice: Practice, due_at: datetime, language: str) -> str:
    """What the patient is told: who will call and by when, in the practice's local time; nothing else."""
    when = local_time(due_at, practice.timezone).strftime("%-I:%M %p").lower()
    texts = CALLBACK_SMS if practice.sms_names_practice else CALLBACK_SMS_UNNAMED
    return texts.get(language, texts["en"]).format(practice=practice.name, time=when)


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
                                        callback_sms_text(practice, task.due_at, call.language if call else "en"))
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
