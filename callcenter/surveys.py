"""A one-question satisfaction survey by SMS, the day after a call that ended with a message taken, for the
practices that turn it on (`practice configure --survey yes`).

The text asks for a number from 1 to 5 and says nothing else (no practice name unless the practice opts
in, as for every text to patients: a lock screen shows it). It goes out between 10 am and 6 pm in the
practice's time, on the day after the call (the text says "yesterday"), once per call and at most once
a week per number; a reply with 1 to 5 within three days is the answer, recorded per practice (the
portal's dashboard shows the average), and thanked. Sending is the worker's (`send_due`, every round).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from .callbacks import callable_number
from .gateway import GatewayError, TwilioGateway
from .hours import local_time
from .models import Call, Practice, PracticeNumber, Survey

WITHIN = timedelta(days=2)  # calls older than this are not looked at any more
ANSWER_WITHIN = timedelta(days=3)
NOT_AGAIN_WITHIN = timedelta(days=7)  # one number is asked at most once a week
DAYTIME = (time(10, 0), time(18, 0))
PER_ROUND = 20  # texts per reconciler round: the round must stay short
QUESTION = {
    "en": "How did we do when you called{practice} yesterday? Reply with a number from 1 (poor) to 5 (excellent).",
    "es": "¿Cómo le atendimos cuando llamó{practice} ayer? Responda con un número del 1 (mal) al 5 (excelente).",
}
THANKS = {"en": "Thank you for telling us.", "es": "Gracias por decírnoslo."}


def question(practice: Practice, language: str) -> str:
    named = f" {'to' if language != 'es' else 'a'} {practice.name}" if practice.sms_names_practice else ""
    return QUESTION.get(language, QUESTION["en"]).format(practice=named)


def send_due(session: Session, gateway: TwilioGateway, now: datetime) -> list[int]:
    """Ask about the calls whose time has come; the ids of the surveys sent. Commits each."""
    awake = [practice.id for practice in session.scalars(select(Practice).where(Practice.survey_enabled.is_(True)))
             if practice.numbers and DAYTIME[0] <= local_time(now, practice.timezone).time() < DAYTIME[1]]
    if not awake:
        return []
    asked_lately = exists().where(Survey.number == Call.from_number, Survey.sent_at > now - NOT_AGAIN_WITHIN)
    due = session.scalars(
        select(Call).where(Call.practice_id.in_(awake), Call.outcome == "message_taken", Call.direction == "inbound",
                           Call.ended_at.is_not(None), Call.ended_at > now - WITHIN,
                           ~exists().where(Survey.call_id == Call.id), ~asked_lately)
        .order_by(Call.ended_at).limit(PER_ROUND)).all()
    sent, asked = [], set()
    for call in due:
        practice = call.practice
        called_on = local_time(call.ended_at, practice.timezone).date()
        today = local_time(now, practice.timezone).date()
        if called_on == today:
            continue  # tomorrow: the text asks about "yesterday", and must be right
        number = callable_number(call.from_number)
        if number is None or number in asked or called_on != today - timedelta(days=1):
            # Never asked (a withheld number; a patient who called twice yesterday is asked once; a call of the
            # day before yesterday, which "yesterday" would not be true of), and set down as such, so that these
            # calls do not stay first in line round after round.
            session.add(Survey(practice_id=practice.id, call_id=call.id, number=(call.from_number or "")[:32],
                               sent_at=now, status="not_asked"))
            session.commit()
            continue
        asked.add(number)
        survey = Survey(practice_id=practice.id, call_id=call.id, number=number, sent_at=now)
        session.add(survey)
        session.commit()  # once per call, whatever happens to the send
        try:
            survey.message_sid = gateway.send_sms(number, practice.numbers[0].number, question(practice, call.language))
        except GatewayError:
            survey.status = "failed"
        session.commit()
        sent.append(survey.id)
    return sent


def answer(session: Session, from_number: str | None, to_number: str | None, body: str | None,
           now: datetime) -> str | None:
    """A reply of 1 to 5 to a survey: recorded, and the thanks to send; None when it answers no survey."""
    words = (body or "").strip().split()
    number = callable_number(from_number)
    if not words or words[0] not in ("1", "2", "3", "4", "5") or number is None:
        return None
    practice_id = session.scalar(select(PracticeNumber.practice_id).where(PracticeNumber.number == to_number))
    survey = session.scalar(select(Survey).where(
        Survey.number == number, Survey.practice_id == practice_id, Survey.score.is_(None),
        Survey.status == "sent", Survey.sent_at > now - ANSWER_WITHIN).order_by(Survey.sent_at.desc()).limit(1))
    if survey is None:
        return None
    survey.score, survey.answered_at = int(words[0]), now
    call = session.get(Call, survey.call_id)
    return THANKS.get(call.language if call else "en", THANKS["en"])


def average(session: Session, practice_id: int, since: datetime) -> tuple[float | None, int]:
    """The practice's average answer since `since`, and how many answers."""
    mean, count = session.execute(select(func.avg(Survey.score), func.count(Survey.score)).where(
        Survey.practice_id == practice_id, Survey.answered_at >= since)).one()
    return (float(mean) if mean is not None else None), int(count or 0)
