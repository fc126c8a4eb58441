"""On-call pages escalate until someone acknowledges them.

A page (callcenter/oncall.py) is an SMS to the clinician on call, with the patient's callback number and
"reply 1". Then, unless someone acknowledges it:

- step 1, after `Policy.call_down_after` (5 minutes; at once when the SMS could not be sent): a voice
  call-down to the same clinician that reads the reference and the callback number and asks them to
  press 1 (/ivr/page-call);
- step 2, `Policy.backup_after` later, when the shift has a backup (callcenter/schedule.py): a page of its
  own to the backup clinician, by SMS and a call-down at once;
- step 3, `Policy.supervisor_after` after the last step (or at once when nobody is on call, or nobody
  could be called): the answering service's supervisors, on the console's pages list and by a notice,
  and one of them must press "I'm handling it".

Acknowledging is replying 1 to the SMS, pressing 1 on the call-down, answering the patient's own call
(the IVR puts urgent callers through to the clinician after paging), or a supervisor's button. It
stops the chain at once and covers every page about the same call. Every step is a ledger event of
the call.

The steps are taken by `escalate_due`, which the worker runs with each reconciler round (every 30 s):
the state is in the database, so a restarted worker takes up where the last one stopped, and each step
is claimed with one conditional UPDATE, so two workers never take the same step twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import ledger, oncall, schedule
from .gateway import GatewayError, TwilioGateway
from .models import Call, OnCallPage, OnCallShift, Practice, PracticeNumber

PAGED, CALLED_DOWN, BACKUP, SUPERVISORS = 0, 1, 2, 3
UNDELIVERED = ("undelivered", "failed")  # Twilio's delivery receipts that mean the SMS will never arrive
RECEIPT_ORDER = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3}
LOOK_BACK = timedelta(days=2)  # pages older than this are history, not escalations
SENDING_GRACE = timedelta(minutes=1)  # a page still "sending" after this: the process sending it died
RINGING_GRACE = timedelta(seconds=90)  # the IVR's dial to the clinician after paging: ring, whisper, answer


@dataclass(frozen=True)
class Policy:
    call_down_after: timedelta = timedelta(minutes=5)
    supervisor_after: timedelta = timedelta(minutes=5)
    backup_after: timedelta = timedelta(minutes=5)

    def for_practice(self, practice: Practice | None) -> Policy:
        """The practice's own delays where it set them (`practice configure --page-minutes`), else these."""
        if practice is None or not practice.page_minutes:
            return self
        minutes = [int(m) for m in practice.page_minutes.split(",")]
        return Policy(call_down_after=timedelta(minutes=minutes[0]), backup_after=timedelta(minutes=minutes[1]),
                      supervisor_after=timedelta(minutes=minutes[2]))

    @classmethod
    def from_config(cls, config) -> Policy:
        return cls(call_down_after=timedelta(seconds=int(config.get("PAGE_CALL_DOWN_AFTER", 300))),
                   supervisor_after=timedelta(seconds=int(config.get("PAGE_SUPERVISOR_AFTER", 300))),
                   backup_after=timedelta(seconds=int(config.get("PAGE_BACKUP_AFTER", 300))))


@dataclass
class Escalated:
    """What one round did: pages called down, pages handed to the backup (the backup's new pages), and
    pages raised to the supervisors (ids)."""

    called_down: list[int]
    raised: list[int]
    to_backup: list[int] = field(default_factory=list)


def _record(session: Session, page: OnCallPage, kind: str, data: dict, actor_id: int | None = None) -> None:
    call = session.get(Call, page.call_id) if page.call_id is not None else None
    if call is not None:
        ledger.record(session, call, kind, {"page": page.id, **data}, actor_id=actor_id,
                      dedupe_key=f"{kind}:{page.id}")


def acknowledge(session: Session, page: OnCallPage, by: str, now: datetime, actor_id: int | None = None) -> bool:
    """Someone has it: stop the chain for this page and every other page about the same call.
    False when it was acknowledged already (the first acknowledgement stands)."""
    if page.acknowledged_at is not None:
        return False
    same_call = [page] if page.call_id is None else list(session.scalars(
        select(OnCallPage).where(OnCallPage.call_id == page.call_id, OnCallPage.acknowledged_at.is_(None))))
    for each in same_call:
        each.acknowledged_at, each.acknowledged_by, each.next_step_at = now, by[:60], None
    _record(session, page, "page_acknowledged", {"by": by}, actor_id=actor_id)
    return True


def acknowledge_call(session: Session, call: Call, by: str, now: datetime) -> OnCallPage | None:
    """Acknowledge the latest page about `call` (the clinician answered the patient, say)."""
    page = session.scalar(select(OnCallPage).where(OnCallPage.call_id == call.id,
                                                   OnCallPage.acknowledged_at.is_(None))
                          .order_by(OnCallPage.id.desc()).limit(1))
    if page is not None and acknowledge(session, page, by, now):
        return page
    return None


def acknowledge_reply(session: Session, from_number: str | None, to_number: str | None, body: str | None,
                      now: datetime) -> OnCallPage | None:
    """A text from a clinician: "1" (or "1 #123", naming the reference) acknowledges their latest
    unacknowledged page from the practice number they reply to, or the one named. None when the text
    is no acknowledgement of a page."""
    words = (body or "").replace("#", " ").split()
    if not from_number or not words or words[0] != "1":
        return None
    query = (select(OnCallPage).where(OnCallPage.to_number == from_number, OnCallPage.acknowledged_at.is_(None),
                                      OnCallPage.sent_at >= now - LOOK_BACK)
             .order_by(OnCallPage.id.desc()).limit(1))
    practice_id = session.scalar(select(PracticeNumber.practice_id).where(PracticeNumber.number == to_number))
    if practice_id is not None:  # a clinician on call for two practices replies to the one that paged
        query = query.where(OnCallPage.practice_id == practice_id)
    if len(words) > 1 and words[1].isdigit():
        query = query.where(OnCallPage.call_id == int(words[1]))
    page = session.scalar(query)
    if page is None or not acknowledge(session, page, "replied 1 to the page", now):
        return None
    return page


def delivery_receipt(session: Session, page_id: int | None, message_sid: str | None, status: str | None,
                     error_code: str | None) -> OnCallPage | None:
    """Twilio's status callback for an SMS: kept on its page, named in the callback's URL (the
    receipt can come before the page's message sid is stored), never moving back, as callbacks may
    come out of order. Returns the page when this receipt says the SMS will never arrive, which
    escalates it at once (see `_due`); None otherwise, or when the SMS was no page."""
    if status not in RECEIPT_ORDER:
        return None
    if page_id is not None:
        page = session.get(OnCallPage, page_id)
        if page is not None and page.message_sid not in (None, message_sid):
            return None  # a receipt that does not belong to this page's SMS
    else:
        page = session.scalar(select(OnCallPage).where(OnCallPage.message_sid == message_sid)) if message_sid else None
    if page is None or RECEIPT_ORDER[status] <= RECEIPT_ORDER.get(page.delivery_status or "", -1):
        return None
    page.delivery_status = status
    if status in UNDELIVERED:
        _record(session, page, "page_undelivered", {"status": status, "error_code": error_code})
        return page if page.acknowledged_at is None else None
    if status == "delivered":
        _record(session, page, "page_delivered", {})
    return None


def _claim(session: Session, page: OnCallPage, step: int, next_at: datetime | None) -> bool:
    """Take the step from `page.escalation_step` to `step`, unless another worker (or an
    acknowledgement) got there first."""
    done = session.execute(
        update(OnCallPage)
        .where(OnCallPage.id == page.id, OnCallPage.escalation_step == page.escalation_step,
               OnCallPage.acknowledged_at.is_(None))
        .values(escalation_step=step, next_step_at=next_at)
        .execution_options(synchronize_session=False))
    session.commit()
    session.refresh(page)
    return done.rowcount == 1


def _due(page: OnCallPage, policy: Policy, now: datetime, has_backup: bool = False) -> int | None:
    """The step this page is due for now, if any (`has_backup`: a backup is still there to page)."""
    if page.escalation_step == PAGED:
        if page.status == "sending" and now - page.sent_at < SENDING_GRACE:
            return None  # its SMS is on its way out this very moment (after that: a process died sending it)
        if not page.to_number:
            return SUPERVISORS  # nobody on call to call down
        if page.status != "sent" or page.delivery_status in UNDELIVERED or page.sent_at + policy.call_down_after <= now:
            return CALLED_DOWN
        return None
    if page.escalation_step == CALLED_DOWN and page.next_step_at is not None and page.next_step_at <= now:
        return BACKUP if has_backup else SUPERVISORS
    return None


def _ringing_them(call: Call, page: OnCallPage, now: datetime) -> bool:
    """The IVR is putting the patient through to the clinician right now (paged, then dialled)."""
    return (call.state == "on_call" and now - page.sent_at < RINGING_GRACE
            and not any(event.kind == "on_call_finished" for event in call.events))


def escalate_due(session: Session, gateway: TwilioGateway, policy: Policy, now: datetime,
                 call_down_url) -> Escalated:
    """Take every step that is due. `call_down_url(page_id)` is where Twilio fetches the call-down's
    TwiML (None: nowhere, so the supervisors). Commits as it goes (a step is claimed before Twilio is asked)."""
    candidates = list(session.scalars(
        select(OnCallPage).where(OnCallPage.acknowledged_at.is_(None), OnCallPage.escalation_step < SUPERVISORS,
                                 OnCallPage.sent_at >= now - LOOK_BACK)
        .order_by(OnCallPage.id.desc())))
    done = Escalated([], [])
    calls_seen: set[int] = set()
    for page in candidates:
        steps = policy.for_practice(session.get(Practice, page.practice_id))
        if page.call_id is not None:
            if page.call_id in calls_seen:
                continue  # an earlier page about the same call (a retried send): the latest one escalates
            calls_seen.add(page.call_id)
        call = session.get(Call, page.call_id) if page.call_id is not None else None
        if call is not None and _ringing_them(call, page, now):
            continue  # the patient's own call is ringing that clinician (25 s, then a whisper): not now
        backup = schedule.backup_of(session, page) if page.recipient == "on_call" else None
        step = _due(page, steps, now, has_backup=backup is not None)
        why = "nobody on call" if not page.to_number else "not acknowledged"
        if step == CALLED_DOWN:
            after = steps.backup_after if backup is not None else steps.supervisor_after
            if not _claim(session, page, CALLED_DOWN, now + after):
                continue
            try:
                sid = _call_down(session, gateway, page, call_down_url)
            except GatewayError as exc:
                _record(session, page, "page_call_down_failed", {"error": str(exc)[:200]})
                session.commit()
                step, why = (BACKUP if backup is not None else SUPERVISORS), "the call-down could not be placed"
            else:
                _record(session, page, "page_called_down", {"to": "on_call", "call_sid": sid})
                session.commit()
                done.called_down.append(page.id)
                continue
        if step == BACKUP:
            if not _claim(session, page, BACKUP, None):
                continue
            backup_page = _page_backup(session, gateway, page, backup, steps, now, call_down_url)
            if backup_page is not None:
                done.to_backup.append(backup_page.id)
                continue
            step, why = SUPERVISORS, "neither the clinician nor the backup could be reached"
        if step == SUPERVISORS and _claim(session, page, SUPERVISORS, None):
            _record(session, page, "page_raised_to_supervisors", {"why": why})
            session.commit()
            done.raised.append(page.id)
    return done


def _call_down(session: Session, gateway: TwilioGateway, page: OnCallPage, call_down_url) -> str:
    """Call the page's `to_number` to read the page and ask for 1; the call's sid, or GatewayError."""
    practice = session.get(Practice, page.practice_id)
    if not practice or not practice.numbers:
        raise GatewayError("the practice has no phone number to call from")
    url = call_down_url(page.id)
    if not url:
        raise GatewayError("no public URL (PUBLIC_BASE_URL) for Twilio to fetch the call-down from")
    return gateway.place_call(page.to_number, practice.numbers[0].number, url)


def _page_backup(session: Session, gateway: TwilioGateway, page: OnCallPage, backup: tuple[str, str], policy: Policy,
                 now: datetime, call_down_url) -> OnCallPage | None:
    """The clinician on call has not acknowledged: a page of its own to their backup, by SMS and a call-down
    at once; the supervisors come `policy.supervisor_after` later. None when neither could be sent."""
    name, number = backup
    practice = session.get(Practice, page.practice_id)
    call = session.get(Call, page.call_id) if page.call_id is not None else None
    shift = session.get(OnCallShift, page.shift_id) if page.shift_id is not None else None
    backup_page = OnCallPage(practice_id=page.practice_id, call_id=page.call_id, shift_id=page.shift_id,
                             to_number=number, recipient="backup", sent_at=now,
                             escalation_step=CALLED_DOWN, next_step_at=now + policy.supervisor_after)
    called = False
    if practice is not None and practice.numbers and call is not None:
        on_call = shift.clinician_name if shift else "the on-call clinician"
        oncall.send(session, gateway, practice, backup_page,
                    lambda link: f"Backup for {on_call}, who has not answered. "
                    + oncall.page_text(practice, call, "urgent", link))
        try:
            _call_down(session, gateway, backup_page, call_down_url)
            called = True
        except GatewayError:
            pass
    else:
        backup_page.status, backup_page.error = "failed", "no practice number to page from"
        session.add(backup_page)
        session.flush()
    sent = backup_page.status == "sent"
    _record(session, backup_page, "page_sent_to_backup", {"to": name, "sms": sent, "called": called})
    session.commit()
    if not (sent or called):
        _claim(session, backup_page, SUPERVISORS, None)
        return None
    return backup_page


def needs_supervisor(page: OnCallPage) -> bool:
    return page.acknowledged_at is None and page.escalation_step >= SUPERVISORS
