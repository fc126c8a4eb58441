"""The worker's jobs, queued by name through `callcenter.followups`. They run inside the app (see ops.worker)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from redis.exceptions import RedisError
from rq.timeouts import JobTimeoutException
from sqlalchemy import select

from callcenter import (
    acd,
    audit,
    call_status,
    digests,
    escalation,
    ledger,
    outage,
    recordings,
    retention,
    schedule,
    surveys,
    voicemail,
    worklist,
)
from callcenter.callbacks import send_callback_sms as send_sms_for_task
from callcenter.delivery import deliver_urgent
from callcenter.extensions import db
from callcenter.kept import forget_faults, noted_faults
from callcenter.models import Message, Practice, SecurityEvent
from callcenter.reconciler import reconcile as reconcile_ledger
from ivr.urls import public_url

log = logging.getLogger(__name__)

OUTAGE_SLOT = "cc:outage:looked"  # set for ten minutes after a look at Twilio's calls
RETENTION_SLOT = "cc:retention:looked"  # set for an hour after recordings past retention were deleted
COPIES_SLOT = "cc:recordings:looked"  # set for ten minutes after overdue copies of recordings were launched
DIGEST_SLOT = "cc:digests:looked"  # set for a minute after the digests due were made and sent
SCHEDULE_SLOT = "cc:schedule:looked"  # set for an hour after the rotations were filled in and gaps looked for
GAP_TOLD = "cc:schedule:gap-told:{practice}:{starts}"  # set once the supervisors heard of this gap
GAP_WARNING = timedelta(hours=24)  # the supervisors hear of a gap this long before it begins


def _write_down_faults(app) -> None:
    """Faults webhooks answered with safe TwiML while the database could not take their row either; they
    leave Redis only once the database has them."""
    try:
        faults, read = noted_faults(app.redis)
    except RedisError:
        return
    for fault in faults:
        try:
            at = datetime.fromtimestamp(float(fault["at"]), UTC)
        except (KeyError, TypeError, ValueError):
            at = datetime.now(UTC)
        db.session.add(SecurityEvent(kind=str(fault.get("kind") or "webhook_fault")[:40],
                                     path=str(fault.get("path") or "")[:200],
                                     detail=str(fault.get("detail") or "")[:400] or None, at=at))
    if faults:
        db.session.commit()
    forget_faults(app.redis, read)


def reconcile() -> dict:
    """Scheduled every RECONCILE_EVERY seconds: replay kept status callbacks, then mend drift."""
    app = current_app
    kept = app.kept.replay({"status": lambda fields: call_status.apply(db.session, app.call_queue, app.followups,
                                                                         fields),
                            "recording": _voicemail_kept, "call_recording": _call_recording_kept},
                           on_failure=db.session.rollback)
    _step("writing down webhook faults", _write_down_faults, app, default=None)
    replayed = [result for kind, result in kept.applied if kind == "status"]
    voicemails_kept = sum(1 for kind, _result in kept.applied if kind == "recording")
    if kept.dead:  # raised once, here: the items wait in the dead-letter list for a person (ops kept)
        log.error("reconciler: %d kept webhooks can never be applied; set aside (flask kept show)", kept.dead)
        app.console.tell_supervisors(f"{kept.dead} Twilio callback(s) could not be applied and were set aside. "
                                     "Ask the service's administrator to look at them (flask kept show).")
    if voicemails_kept:
        log.warning("reconciler: saved %d voicemails whose recording callback had failed", voicemails_kept)
    report = reconcile_ledger(db.session, app.call_queue, app.gateway,
                              after_call_limit=timedelta(seconds=app.config["AFTER_CALL_WORK_LIMIT"]))
    db.session.commit()
    unowned = _step("raising calls nobody owns", _raise_unowned, app, default=[])
    if replayed:
        log.warning("reconciler: applied %d status callbacks that had failed when they arrived", len(replayed))
    if any(applied.abandoned for applied in replayed) or report.gone_while_waiting or report.stuck_connecting:
        app.console.queue_changed()
    for applied in replayed:  # a hang-up kept while the database was busy: the agent's console hears now
        app.console.call_changed_for(applied.agent_id)
    if report.gone_while_waiting:
        log.warning("reconciler: %d waiting callers had hung up unseen (Twilio says so); now abandoned",
                    len(report.gone_while_waiting))
    if report.restored_to_queue or report.removed_from_queue:
        log.warning("reconciler: restored %d waiting calls to Redis, removed %d stale entries",
                    report.restored_to_queue, report.removed_from_queue)
    if report.stuck_connecting:
        log.warning("reconciler: re-queued %d calls whose connection to an agent never happened",
                    len(report.stuck_connecting))
    for task_id in report.sms_not_sent:  # job ids make this idempotent with the webhook's own attempt
        app.followups.send_callback_sms(task_id, again=True)
    for message_id in report.pages_not_sent:  # the page job was lost: an urgent message must still be paged
        app.followups.page_on_call(message_id, again=True)
    if report.pages_not_sent:
        log.error("reconciler: %d urgent messages had no page (their job was lost); paging now",
                  len(report.pages_not_sent))
    for call_id, agent_id in report.ended_unseen:  # Twilio said the line ended; its callback never came
        if agent_id is not None:
            acd.call_ended(db.session, app.presence, agent_id, call_id, ledger.now())
            db.session.commit()
            app.console.call_changed_for(agent_id)
    if report.ended_unseen:
        log.warning("reconciler: %d open calls had ended unseen (Twilio says so); ended now", len(report.ended_unseen))
        app.console.queue_changed()
    if report.voicemails_found:
        log.warning("reconciler: %d voicemails whose callback never arrived were found at Twilio and saved",
                    len(report.voicemails_found))
        app.console.voicemails_changed()
    for call_id in report.wrap_up_overdue:  # the agent has gone quiet on it: a supervisor owns it now
        app.console.wrap_up_overdue(call_id)
    if report.without_outcome:
        log.error("reconciler: %d ended calls have no owned outcome past their deadline (ids %s)",
                  len(report.without_outcome), report.without_outcome[:20])
    escalated = escalate_pages()
    # Housekeeping, after everything a patient is waiting on: each step has a round of its own, and one that
    # fails is logged and tried next round, never stopping the others (nor, above, the queue's repair, the
    # hang-ups Twilio reported, and the pages' escalation).
    taken_while_down = _step("the outage check", _take_in_calls_twilio_took, app, default=[])
    removed, conversations_removed = _step("retention", _remove_expired_recordings, app, default=([], []))
    copies = _step("copying recordings", _copy_recordings_owed, app, default=[])
    sealed = _step("sealing the audit", _seal_audit, default=0)
    gaps_told = _step("the on-call schedule", _schedule_ahead, app, default=[])
    digests_made, digests_sent = _step("the practices' digests", _digests, app, default=([], []))
    surveyed = _step("satisfaction surveys", lambda: surveys.send_due(db.session, app.gateway, ledger.now()),
                     default=[])
    return {"pages_called_down": escalated.called_down, "pages_raised": escalated.raised,
            "restored": report.restored_to_queue, "removed": report.removed_from_queue,
            "without_outcome": report.without_outcome, "stuck_connecting": report.stuck_connecting,
            "sms_not_sent": report.sms_not_sent, "pages_not_sent": report.pages_not_sent,
            "replayed": len(kept.applied), "set_aside": kept.dead,
            "gone_while_waiting": report.gone_while_waiting, "wrap_up_overdue": report.wrap_up_overdue,
            "ended_unseen": [call_id for call_id, _agent in report.ended_unseen],
            "voicemails_found": report.voicemails_found, "taken_while_down": taken_while_down,
            "audit_sealed": sealed, "recordings_removed": removed,
            "conversations_removed": conversations_removed, "recording_copies_relaunched": copies,
            "gaps_told": gaps_told, "raised_to_worklist": unowned, "digests_made": digests_made,
            "digests_sent": digests_sent, "surveys_sent": surveyed}


def _first_in(app, key: str, seconds: int) -> bool:
    """True for the one worker whose round takes this slot (`key` set for `seconds`); False for the others, and
    while Redis is down (the next round tries again)."""
    try:
        return bool(app.redis.set(key, "1", nx=True, ex=seconds))
    except RedisError:
        return False


def _step(what: str, do, *args, default):
    """One housekeeping step of the reconciler's round, on its own: a failure is rolled back and logged
    (the job's own timeout is not a failure of the step: it stops the round)."""
    try:
        return do(*args)
    except JobTimeoutException:
        raise
    except Exception as exc:
        db.session.rollback()
        log.error("reconciler: %s failed (%s); tried again next round", what, type(exc).__name__)
        return default


def _raise_unowned(app) -> list[int]:
    """Calls nobody owns go to the supervisors' worklist (callcenter/worklist.py); urgent ones are told."""
    items = worklist.raise_unowned(db.session, ledger.now())
    if items:
        log.warning("reconciler: %d calls nobody owned were raised to the supervisors' worklist", len(items))
        app.console.worklist_changed()
        urgent = sum(1 for item in items if item.urgent)
        if urgent:
            app.console.tell_supervisors(f"{urgent} urgent call(s) nobody owns are on the worklist: take them first.")
    return [item.id for item in items]


def _digests(app) -> tuple[list[int], list[int]]:
    """Once a minute (one worker): each practice's digest whose time has come is made, and the digests owed
    to the practices' addresses are emailed (one that fails is tried again later, never lost)."""
    if not _first_in(app, DIGEST_SLOT, 60):
        return [], []
    now = ledger.now()
    made = digests.make_due(db.session, now, app.config.get("PUBLIC_BASE_URL"))
    try:
        mailer = digests.Mailer.from_url(app.config.get("SMTP_URL"), app.config.get("SMTP_FROM"))
    except ValueError as exc:
        log.error("digests are not emailed: %s", exc)
        mailer = None
    sent, failed = digests.send_owed(db.session, mailer, now)
    if failed:
        log.warning("digests: %d could not be emailed (%s); tried again later", len(failed),
                    "see the digests table" if len(failed) > 1 else "SMTP refused or unreachable")
    return [d.id for d in made], sent


def _schedule_ahead(app) -> list[tuple[int, str]]:
    """Once an hour (one worker): the rotations become shifts for the next two weeks, and the supervisors
    hear, once each, of every gap in the next day: the practice closed and nobody on call."""
    if not _first_in(app, SCHEDULE_SLOT, 3600):
        return []
    now = ledger.now()
    schedule.fill_all(db.session, now)
    db.session.commit()
    told = []
    remember = int(GAP_WARNING.total_seconds()) * 2
    for practice in db.session.scalars(select(Practice)):
        tz = ZoneInfo(practice.timezone)
        # From a day back, so that a gap already begun keeps its own start (and is told once, not hourly).
        for gap in schedule.gaps(db.session, practice, now - GAP_WARNING, now + GAP_WARNING):
            if gap.ends_at > now and _first_in(app, GAP_TOLD.format(practice=practice.id,
                                                                     starts=int(gap.starts_at.timestamp())), remember):
                app.console.tell_supervisors(
                    f"{practice.name} has nobody on call from {gap.starts_at.astimezone(tz):%a %-I:%M %p} to "
                    f"{gap.ends_at.astimezone(tz):%a %-I:%M %p} (their time), while closed: an urgent caller would "
                    "reach no clinician. Ask the practice to add an on-call shift.")
                told.append((practice.id, gap.starts_at.isoformat()))
        for shift, off in schedule.conflicts(db.session, practice.id, now, now + GAP_WARNING):
            if _first_in(app, GAP_TOLD.format(practice=practice.id, starts=f"off-{off.id}-{shift.id}"), remember):
                app.console.tell_supervisors(
                    f"{practice.name}: {off.clinician_name} is on call from "
                    f"{shift.starts_at.astimezone(tz):%a %-I:%M %p} (their time) but marked off duty then. "
                    "Ask the practice who covers it.")
                told.append((practice.id, shift.starts_at.isoformat()))
    if told:
        log.warning("on-call schedule: %d gaps in the next day, told to the supervisors", len(told))
    return told


def _seal_audit() -> int:
    sealed = audit.seal(db.session, current_app.config["AUDIT_KEY"].encode())  # the rows since the last round
    db.session.commit()
    if sealed:  # the head, outside the database: `flask audit verify --head` finds entries removed from the end
        seq, hashed = audit.head(db.session)
        log.info("audit chain head: %d %s", seq, hashed)
    return sealed


def _remove_expired_recordings(app) -> tuple[list[int], list[int]]:
    """Hourly (one worker, through a Redis slot): recordings past their practice's retention period go:
    voicemails' at Twilio (their messages' ids) and recorded conversations' copies here (their ids)."""
    if not _first_in(app, RETENTION_SLOT, 3600):
        return [], []
    removed = retention.remove_expired_recordings(db.session, app.gateway, ledger.now())
    if removed:
        log.info("retention: %d voicemail recordings past their practice's retention period deleted at Twilio",
                 len(removed))
    conversations = recordings.remove_expired(db.session, ledger.now())
    if conversations:
        log.info("retention: %d recorded conversations past their practice's retention period removed",
                 len(conversations))
    return removed, conversations


def _copy_recordings_owed(app) -> list[int]:
    """Every ten minutes (one worker): recorded conversations still at Twilio, or not yet deleted there,
    long after their callback (the job failed for good, or was lost with Redis) are launched again."""
    if not _first_in(app, COPIES_SLOT, 600):
        return []
    owed = recordings.copies_owed(db.session, ledger.now())
    for recording_id in owed:
        app.followups.take_recording_copy(recording_id, again=True)
    if owed:
        log.warning("reconciler: %d recorded conversations were not yet copied from Twilio; tried again", len(owed))
    failed = recordings.give_up(db.session, ledger.now())
    if failed:
        log.error("reconciler: %d recorded conversations could not be copied from Twilio in two days (ids %s); "
                  "they are still at Twilio", len(failed), failed[:20])
        app.console.tell_supervisors(f"{len(failed)} recorded conversation(s) could not be copied from Twilio in two "
                                     "days and are still there. Ask the service's administrator to look at them.")
    return owed


def _take_in_calls_twilio_took(app) -> list[int]:
    """Every ten minutes (one worker, through a Redis slot): calls Twilio's fallback took while the app was
    down, or that reached Twilio and never us, are recorded with their voicemail or their callback."""
    if not _first_in(app, OUTAGE_SLOT, int(outage.LOOK_EVERY.total_seconds())):
        return []
    taken = outage.take_in_calls_twilio_took(db.session, app.call_queue, app.followups, app.gateway, ledger.now())
    if len(taken) >= outage.PER_ROUND:  # more may be waiting: the next round (30 s) goes on, not in 10 minutes
        try:
            app.redis.delete(OUTAGE_SLOT)
        except RedisError:
            pass
    if taken:
        log.warning("reconciler: %d calls Twilio took while the app could not answer are recorded now "
                    "(voicemails to review, callbacks owed)", len(taken))
        app.console.voicemails_changed()
        app.console.callbacks_changed()
        app.console.tell_supervisors(f"{len(taken)} call(s) reached Twilio while the service could not answer. "
                                     "Their voicemails and callbacks are on the lists now.")
    return taken


def _call_recording_kept(fields: dict) -> int | None:
    recording = recordings.arrived(db.session, fields)
    db.session.commit()
    if recording is None:
        return None
    if recording.status == "at_twilio":
        current_app.followups.take_recording_copy(recording.id)
    return recording.id


def take_recording_copy(recording_id: int) -> str | None:
    """Copy a recorded conversation from Twilio into the ledger, then delete Twilio's (idempotent). Fails
    while Twilio cannot be reached, so RQ retries it; the reconciler launches it again after that."""
    return recordings.take_copy(db.session, current_app.gateway, recording_id, ledger.now())


def _voicemail_kept(fields: dict) -> int | None:
    _call, message = voicemail.recorded(db.session, fields)
    db.session.commit()
    return message.id if message is not None else None


def escalate_pages() -> escalation.Escalated:
    """Take the escalation steps of unacknowledged on-call pages that are due (with each reconciler round)."""
    app = current_app
    # Without PUBLIC_BASE_URL, Twilio could not fetch a call-down's TwiML: the step goes to the supervisors.
    public = app.config.get("PUBLIC_BASE_URL")
    done = escalation.escalate_due(db.session, app.gateway, escalation.Policy.from_config(app.config), ledger.now(),
                                   lambda page_id: public_url(f"/ivr/page-call/{page_id}") if public else None)
    db.session.commit()
    if done.called_down or done.raised:
        app.console.pages_changed()
    for page_id in done.raised:
        log.warning("on-call page %s was not acknowledged: raised to the supervisors", page_id)
        app.console.tell_supervisors("An urgent page was not acknowledged. It is on the pages list: "
                                     "reach the clinician or the practice, then press I'm handling it.")
    for page_id in done.called_down:
        log.info("on-call page %s not acknowledged: calling the clinician", page_id)
    return done


def send_callback_sms(task_id: int) -> str | None:
    """Tell an abandoned caller when we will call back (idempotent per task)."""
    sid = send_sms_for_task(db.session, current_app.gateway, task_id)
    db.session.commit()
    if sid is None:
        log.warning("callback task %s: no SMS sent (no callable number, or Twilio refused)", task_id)
    return sid


def page_on_call(message_id: int) -> str | None:
    """Page the on-call clinician about an urgent message taken at wrap-up (idempotent per call).

    Returns the page's status. A page Twilio refused is recorded and the job fails, so RQ retries it.
    """
    message = db.session.get(Message, message_id)
    if message is None:
        return None
    page = deliver_urgent(db.session, current_app.gateway, message, ledger.now())
    db.session.commit()
    if page is None:
        return None
    current_app.console.pages_changed()  # a hint for the consoles' "Recent pages"
    if page.status == "failed":
        log.warning("on-call page %s for message %s was not sent; RQ will retry", page.id, message_id)
        raise RuntimeError(f"on-call page {page.id} was not sent")
    return page.status
