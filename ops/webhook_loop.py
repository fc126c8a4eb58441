"""The sender of practices' webhooks (callcenter/outbound.py): a thread of each worker process, apart
from RQ's queue, so that a practice's slow or silent system can never hold up the jobs patients wait on
(pages, callback texts, the reconciler).

It wakes the moment a commit owes deliveries (`outbound.wake`, from app.py's after-commit hook) and at
least every ROUND_EVERY seconds, and sends what is due: deliveries are claimed row by row in the database,
so two workers never send one twice, and a worker that dies leaves them for the next.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from callcenter import ledger, outbound
from callcenter.extensions import db

log = logging.getLogger(__name__)
WAKE_KEY = outbound.WAKE_KEY
ROUND_EVERY = 5.0  # seconds: the longest a due retry waits to be sent


PURGE_EVERY = 3600.0  # seconds between two purges of old deliveries by one sender
_purged = {"at": 0.0}


def run_round(app: Flask) -> list[int]:
    """Send the deliveries due now; the ids delivered. Once an hour, forget those past outbound.KEEP_DAYS."""
    with app.app_context():
        try:
            if time.monotonic() - _purged["at"] > PURGE_EVERY:
                _purged["at"] = time.monotonic()
                outbound.purge(db.session, ledger.now())
            return outbound.send_due(db.session, ledger.now(),
                                     allow_private=app.config.get("WEBHOOKS_ALLOW_PRIVATE", False))
        finally:
            db.session.remove()


def loop(app: Flask, stop: threading.Event, every: float = ROUND_EVERY) -> None:
    while not stop.is_set():
        try:
            run_round(app)
            app.redis.blpop([WAKE_KEY], timeout=every)
        except Exception as exc:  # the database or Redis briefly away: the next round tries again
            log.warning("webhook sender: %s", type(exc).__name__)
            stop.wait(every)


def start(app: Flask, every: float = ROUND_EVERY) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=loop, args=(app, stop, every), daemon=True, name="webhook-sender").start()
    return stop
