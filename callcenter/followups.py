"""Work that follows an event, done by the worker: which jobs there are, their ids and their retries.

Jobs are queued by name (their functions live in `ops.jobs`, which runs them inside the app), so
that no webhook or console handler imports the worker to schedule work. A job id names the job and
the row it is about, so that a person (or a test) can find it; a second launch for the same row
queues it again, and every job is idempotent, so a retry or a duplicate does nothing twice.
"""

from __future__ import annotations

import logging

from rq import Queue, Retry

log = logging.getLogger(__name__)

JOBS_MODULE = "ops.jobs"
# One retry policy for all follow-up work: soon, then a minute, then five.
RETRY_INTERVALS = [10, 60, 300]


class FollowUps:
    """Launches follow-up jobs on the RQ queue; a launch that fails is logged and reported, never raised."""

    def __init__(self, queue: Queue):
        self.queue = queue

    def launch(self, job: str, *args, key: str, retry: bool = True, **options) -> bool:
        """Queue `ops.jobs.<job>(*args)` as job `<job>-<key>`; False when Redis would not take it."""
        try:
            self.queue.enqueue(f"{JOBS_MODULE}.{job}", *args, job_id=f"{job}-{key}",
                               retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS) if retry else None,
                               **options)
        except Exception as exc:
            log.warning("could not queue %s: %s", job, type(exc).__name__)
            return False
        return True

    def send_callback_sms(self, task_id: int, *, again: bool = False) -> bool:
        """Tell an abandoned caller when we will call back; `again` when the reconciler found it unsent."""
        return self.launch("send_callback_sms", task_id, key=f"{task_id}{'-again' if again else ''}")

    def page_on_call(self, message_id: int, *, again: bool = False) -> bool:
        """Page the on-call clinician about an urgent message taken at wrap-up; `again` when the reconciler
        found no page for it (its job was lost)."""
        return self.launch("page_on_call", message_id, key=f"{message_id}{'-again' if again else ''}")

    def escalate_pages(self, page_id: int) -> bool:
        """Take the escalation steps due now, at once, because page `page_id` will never arrive (the
        reconciler's round would take them within 30 s anyway)."""
        return self.launch("escalate_pages", key=f"undelivered-{page_id}", retry=False)

    def take_recording_copy(self, recording_id: int, *, again: bool = False) -> bool:
        """Copy a recorded conversation from Twilio into the ledger, then delete it at Twilio; `again` when
        the reconciler found the copy overdue."""
        return self.launch("take_recording_copy", recording_id, key=f"{recording_id}{'-again' if again else ''}")

    def reconcile(self, period: str) -> bool:
        """Run the reconciler once for this period (it is scheduled again, so it is not retried)."""
        return self.launch("reconcile", key=period, retry=False, job_timeout=120, result_ttl=600)
