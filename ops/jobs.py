"""RQ jobs. They run inside the worker's app context (see ops.worker)."""

from __future__ import annotations

import logging

from flask import current_app

from callcenter.extensions import db
from callcenter.reconciler import reconcile

log = logging.getLogger(__name__)


def reconcile_job() -> dict:
    """Scheduled every RECONCILE_EVERY seconds."""
    from ivr.status_updates import replay_pending

    replayed = replay_pending()
    report = reconcile(db.session, current_app.call_queue, current_app.gateway)
    db.session.commit()
    if replayed:
        log.warning("reconciler: applied %d status callbacks that had failed when they arrived", replayed)
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
        current_app.task_queue.enqueue(send_callback_sms_job, task_id, job_id=f"callback-sms-{task_id}-retry")
    if report.without_outcome:
        log.error("reconciler: %d ended calls have no owned outcome past their deadline (ids %s)",
                  len(report.without_outcome), report.without_outcome[:20])
    return {"restored": report.restored_to_queue, "removed": report.removed_from_queue,
            "without_outcome": report.without_outcome, "stuck_connecting": report.stuck_connecting,
            "sms_not_sent": report.sms_not_sent, "replayed": replayed,
            "gone_while_waiting": report.gone_while_waiting}


def send_callback_sms_job(task_id: int) -> str | None:
    """Tell an abandoned caller when we will call back (idempotent per task)."""
    from callcenter.callbacks import send_callback_sms

    sid = send_callback_sms(db.session, current_app.gateway, task_id)
    db.session.commit()
    if sid is None:
        log.warning("callback task %s: no SMS sent (no callable number, or Twilio refused)", task_id)
    return sid


def page_on_call_job(message_id: int) -> str | None:
    """Page the on-call clinician about an urgent message taken at wrap-up (idempotent per call).

    Returns the page's status. A page Twilio refused is recorded and the job fails, so RQ retries it.
    """
    from callcenter import ledger
    from callcenter.delivery import deliver_urgent, recent_pages
    from callcenter.extensions import socketio
    from callcenter.live import NAMESPACE
    from callcenter.models import Message

    message = db.session.get(Message, message_id)
    if message is None:
        return None
    page = deliver_urgent(db.session, current_app.gateway, message, ledger.now())
    db.session.commit()
    if page is None:
        return None
    try:  # a hint for the consoles' "Recent pages"; they catch up with their next snapshot anyway
        socketio.emit("pages", {"pages": recent_pages(db.session)}, namespace=NAMESPACE)
    except Exception as exc:
        log.warning("could not announce the on-call page: %s", type(exc).__name__)
    if page.status == "failed":
        log.warning("on-call page %s for message %s was not sent; RQ will retry", page.id, message_id)
        raise RuntimeError(f"on-call page {page.id} was not sent")
    return page.status
