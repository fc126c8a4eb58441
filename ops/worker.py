"""The RQ worker process: jobs, RQ's scheduler for delayed jobs, a ticker for recurring ones, and the
offer loop that rings agents for waiting callers (`ops.offer_loop`)."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask
from rq import SimpleWorker

from . import offer_loop

log = logging.getLogger(__name__)
RECONCILE_EVERY = 30  # seconds
TICK_KEY = "cc:tick:reconcile"  # held for one period by whichever worker enqueued that period's run


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
    offers_stop = None
    if not burst:
        threading.Thread(target=_ticker, args=(app, stop), daemon=True, name="ticker").start()
        _, offers_stop = offer_loop.start(app)
    with app.app_context():
        worker = SimpleWorker([app.task_queue], connection=app.redis)
        try:
            worker.work(with_scheduler=True, burst=burst, logging_level="INFO")
        finally:
            stop.set()
            if offers_stop is not None:
                offers_stop.set()
