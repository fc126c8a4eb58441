"""The RQ worker process: jobs, RQ's scheduler for delayed jobs, a ticker for recurring ones, and the
offer loop that rings agents for waiting callers (`ops.offer_loop`).

RQ's scheduler runs here as a thread, not as the forked child RQ would start: a child outlives a worker
killed with SIGKILL and keeps the scheduler lock, so that no later worker schedules. A thread dies with
its worker; its lock then lapses within a minute, and the next worker's scheduler, asking every few
seconds, takes it over."""

from __future__ import annotations

import logging
import os
import threading
import time

from flask import Flask
from rq import SimpleWorker
from rq.exceptions import SchedulerNotFound
from rq.scheduler import RQScheduler
from rq.scripts import release_lock

from . import offer_loop, webhook_loop

log = logging.getLogger(__name__)
RECONCILE_EVERY = 30  # seconds
TICK_KEY = "cc:tick:reconcile"  # held for one period by whichever worker enqueued that period's run
SCHEDULER_EVERY = 1.0  # seconds between moves of due jobs (retries, delayed jobs) onto the queue
TAKE_OVER_EVERY = 5.0  # seconds between tries for the lock held by another worker's scheduler


class _ThreadScheduler(RQScheduler):
    """RQ's scheduler, run in a thread of the worker (no signal handlers of its own: those are the worker's)."""

    def _install_signal_handlers(self) -> None:
        pass

    def take_over_from_the_dead(self) -> list[str]:
        """Release scheduler locks held by a scheduler of this machine whose process is gone (a worker
        killed with SIGKILL), rather than waiting a minute for them to lapse. Returns their names."""
        released = []
        for queue_name in self._queue_names:
            key = self.get_locking_key(queue_name)
            holder = self.connection.get(key)
            if holder is None:
                continue
            holder = holder.decode() if isinstance(holder, bytes) else holder
            try:
                other = RQScheduler.fetch(holder, self.connection)
            except SchedulerNotFound:
                continue
            if other.hostname == self.hostname and other.pid and not _running(other.pid):
                release_lock(self.connection, key, holder)
                released.append(holder)
        return released


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _scheduler(app: Flask, stop: threading.Event, burst: bool = False) -> None:
    """Move due scheduled jobs to the queue while this worker holds the scheduler lock; take the lock over
    when it lapses. Burst: one pass."""
    scheduler = _ThreadScheduler([app.task_queue], connection=app.redis, interval=int(SCHEDULER_EVERY))
    scheduler.register_birth()
    last_try = float("-inf")
    try:
        while True:
            try:
                if not scheduler.acquired_locks and time.monotonic() - last_try >= TAKE_OVER_EVERY:
                    last_try = time.monotonic()
                    if not scheduler.acquire_locks() and scheduler.take_over_from_the_dead():
                        log.warning("the scheduler lock was held by a worker that died; taken over")
                        scheduler.acquire_locks()
                if scheduler.acquired_locks:
                    scheduler.heartbeat()
                    scheduler.enqueue_scheduled_jobs()
            except Exception as exc:  # Redis briefly away: the lock lapses or holds; try again
                log.warning("scheduler: %s", type(exc).__name__)
            if burst or stop.wait(SCHEDULER_EVERY):
                break
    finally:
        try:
            scheduler.release_locks()
            scheduler.register_death()
        except Exception as exc:
            log.warning("scheduler could not release its lock (it lapses by itself): %s", type(exc).__name__)


def _ticker(app: Flask, stop: threading.Event) -> None:
    """Enqueue the reconciler every RECONCILE_EVERY seconds; one tick per period across all workers."""
    while not stop.wait(1.0):
        try:
            if app.redis.set(TICK_KEY, "1", nx=True, ex=RECONCILE_EVERY):
                app.followups.reconcile(period=str(int(time.time()) // RECONCILE_EVERY))
        except Exception as exc:  # Redis briefly away: try again next second
            log.warning("ticker: %s", type(exc).__name__)


def run_worker(app: Flask, burst: bool = False) -> None:
    """Work the queue in this process (SimpleWorker: jobs share the app context and its pools)."""
    stop = threading.Event()
    offers_stop = webhooks_stop = None
    if burst:
        _scheduler(app, stop, burst=True)
    else:
        threading.Thread(target=_ticker, args=(app, stop), daemon=True, name="ticker").start()
        threading.Thread(target=_scheduler, args=(app, stop), daemon=True, name="scheduler").start()
        _, offers_stop = offer_loop.start(app)
        webhooks_stop = webhook_loop.start(app)
    with app.app_context():
        worker = SimpleWorker([app.task_queue], connection=app.redis)
        try:
            worker.work(with_scheduler=False, burst=burst, logging_level="INFO")
        finally:
            stop.set()
            if offers_stop is not None:
                offers_stop.set()
                webhooks_stop.set()
