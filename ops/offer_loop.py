"""The offer loop: rings agents for waiting callers, and ends offers whose ring time is over.

It runs in every worker process (a thread beside RQ's work loop, see `ops.worker`), waking the
moment a caller is queued or an agent becomes free (`Offers.wait`) and at least every
ROUND_EVERY seconds, so that a ring timeout is kept to within a fraction of a second. A Redis lock
lets one process run a round at a time; every outcome is settled in Redis exactly once anyway.

Every web process keeps a standby (`standby`, started by gunicorn.conf.py): when no round has run for
STANDBY_AFTER seconds (every worker is down), it runs rounds itself, once a second, and says so in its
log, so that callers are still offered to agents while the workers are restarted.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from callcenter import acd, ledger
from callcenter.extensions import db

log = logging.getLogger(__name__)
ROUND_EVERY = 0.25  # seconds
LOCK_KEY = "cc:offers:round"
LAST_ROUND_KEY = "cc:offers:last_round"  # "<epoch seconds> <worker|standby>": the last round, and who ran it
STANDBY_AFTER = 3.0  # seconds without a round before a web process runs them itself
STANDBY_EVERY = 1.0


def run_round(app: Flask, by: str = "worker") -> acd.Round:
    """One round (see `callcenter.acd.run_round`), committed, with every console concerned told."""
    with app.app_context():
        try:
            result = acd.run_round(db.session, app.call_queue, app.presence, app.offers, ledger.now(), app.acd,
                                   ring=app.console.offer_rings)  # at once: the commit comes after
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        app.redis.set(LAST_ROUND_KEY, f"{time.time():.3f} {by}", ex=60)
        tell_consoles(app, result, rung=True)
        return result


def tell_consoles(app: Flask, result: acd.Round, rung: bool = False) -> None:
    """The consoles concerned hear what the round changed (`rung`: its offers rang already)."""
    console = app.console
    for offer in [] if rung else result.offered:
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


def standby_round(app: Flask, lock=None) -> bool:
    """Run a round unless a worker has run one in the last STANDBY_AFTER seconds; True if this one did."""
    last = app.redis.get(LAST_ROUND_KEY)
    if last is not None:
        at, _, by = (last.decode() if isinstance(last, bytes) else last).partition(" ")
        if by != "standby" and time.time() - float(at) <= STANDBY_AFTER:
            return False
    lock = lock or app.redis.lock(LOCK_KEY, timeout=10, blocking_timeout=0)
    if not lock.acquire(blocking=False):
        return False
    try:
        run_round(app, by="standby")
    finally:
        lock.release()
    return True


def standby(app: Flask, stop: threading.Event, every: float = STANDBY_EVERY) -> None:
    """The web process's stand-in for a missing worker's loop (see the module's doc)."""
    lock = app.redis.lock(LOCK_KEY, timeout=10, blocking_timeout=0)
    covering = False
    while not stop.wait(every):
        try:
            ran = standby_round(app, lock)
        except Exception as exc:
            log.warning("offer loop standby: %s", type(exc).__name__)
            continue
        if ran and not covering:
            log.warning("no worker has run the offer loop for %.0f s: this web process rings agents until one does",
                        STANDBY_AFTER)
        elif not ran and covering:
            log.warning("a worker runs the offer loop again")
        covering = ran


def start_standby(app: Flask) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=standby, args=(app, stop), daemon=True, name="offer-loop-standby").start()
    return stop
