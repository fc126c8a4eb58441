"""Follow-up work queued for the worker by name: one job per row, retried on a schedule, and a launch
that fails never breaks the webhook or click that asked for it."""

import logging
import socket

from redis import Redis
from rq import Queue

from callcenter.followups import RETRY_INTERVALS, FollowUps


def test_a_launch_queues_the_named_job_for_its_row_with_the_retry_policy(app):
    assert app.followups.send_callback_sms(7) is True
    assert app.followups.page_on_call(12) is True

    assert app.task_queue.job_ids == ["send_callback_sms-7", "page_on_call-12"]
    job = app.task_queue.fetch_job("send_callback_sms-7")
    assert (job.func_name, job.args) == ("ops.jobs.send_callback_sms", (7,))
    assert (job.retries_left, job.retry_intervals) == (3, [10, 60, 300]) == (len(RETRY_INTERVALS), RETRY_INTERVALS)
    page = app.task_queue.fetch_job("page_on_call-12")
    assert (page.func_name, page.args, page.retries_left) == ("ops.jobs.page_on_call", (12,), 3)


def test_the_reconcilers_second_try_at_an_sms_is_a_job_of_its_own(app):
    app.followups.send_callback_sms(7)
    app.followups.send_callback_sms(7, again=True)

    assert app.task_queue.job_ids == ["send_callback_sms-7", "send_callback_sms-7-again"]


def test_the_reconciler_is_launched_per_period_with_a_time_limit_and_no_retries(app):
    # The worker names the period by its number since the epoch (see ops.worker).
    assert app.followups.reconcile("5894112") is True

    job = app.task_queue.fetch_job("reconcile-5894112")
    assert (job.func_name, job.args, job.retries_left) == ("ops.jobs.reconcile", (), None)
    assert (job.timeout, job.result_ttl) == (120, 600)


def test_a_launch_with_redis_unreachable_says_so_without_raising(caplog):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    followups = FollowUps(Queue("answering", connection=Redis(port=port, socket_connect_timeout=1)))
    caplog.set_level(logging.WARNING, logger="callcenter.followups")

    assert followups.page_on_call(12) is False

    assert [r.getMessage() for r in caplog.records] == ["could not queue page_on_call: ConnectionError"]
