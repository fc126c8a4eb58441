"""The offer loop: rings agents for waiting callers, and ends offers whose ring time is over.

It runs in every worker process (a thread beside RQ's work loop, see `ops.worker`), waking the
moment a caller is queued or an agent becomes free (`Offers.wait`) and at least every
ROUND_EVERY seconds, so that a ring timeout is kept to within a fraction of a second. A Redis lock
lets one process run a round at a time; every outcome is settled in Redis exactly once anyway.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from callcenter import acd, ledger
from callcenter.extensions import db

log = logging.getLogger(__name__)
ROUND_EVERY = 0.25  # seconds
LOCK_KEY = "cc:offers:round"


def run_round(app: Flask) -> acd.Round:
    """One round (see `callcenter.acd.run_round`), committed, with every console concerned told."""
    with app.app_context():
        try:
            result = acd.run_round(db.session, app.call_queue, app.presence, app.offers, ledger.now(), app.acd)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        tell_consoles(app, result)
        return result


def tell_consoles(app: Flask, result: acd.Round) -> None:
    console = app.console
    for offer in result.offered:
        console.offer_rings(offer)
    for settled in result.ended:
        console.offer_ended(settled)
    for agent_id, reason in result.set_away:
        console.agent_set_away(agent_id, reason)
    if result:
        console.queue_changed()


def loop(app: Flask, stop: threading.Event, every: float = ROUND_EVERY) -> None:
    """Run rounds until `stop` is set; a fault is logged and the next round tries again."""
    lock = app.redis.lock(LOCK_KEY, timeout=10, blocking_timeout=0)
    while not stop.is_set():
        try:
            if lock.acquire(blocking=False):
                try:
                    run_round(app)
                finally:
                    lock.release()
            app.offers.wait(every)
        except Exception as exc:  # Redis or the database briefly away: the next round tries again
            log.warning("offer loop: %s", type(exc).__name__)
            stop.wait(every)


def start(app: Flask, every: float = ROUND_EVERY) -> tuple[threading.Thread, threading.Event]:
    """The loop in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=loop, args=(app, stop, every), daemon=True, name="offer-loop")
    thread.start()
    return thread, stop
