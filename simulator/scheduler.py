"""Many simulated people on a few threads: each is a small state machine stepped when it is due.

Holding thousands of callers must not mean thousands of threads, nor each of them polling the
emulator every few milliseconds. An actor's `step()` does one or two HTTP requests and returns the
monotonic time it wants to run again (or None when it is done); a bounded pool of worker threads
steps whichever actors are due, earliest first.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class Actor(Protocol):
    def step(self, now: float) -> float | None:
        """Do what is due; return when to be stepped again (time.monotonic()), or None when finished."""

    def failed(self, error: Exception) -> None:
        """`step` raised: give up on this actor."""


class Scheduler:
    def __init__(self, workers: int = 16, on_error: Callable[[Exception], None] | None = None):
        self._heap: list[tuple[float, int, Actor]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._running = 0  # actors added and not finished
        self._stopping = False
        self._on_error = on_error
        self._threads = [threading.Thread(target=self._work, name=f"sim-worker-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def add(self, actor: Actor, due: float | None = None) -> None:
        with self._cond:
            self._running += 1
            heapq.heappush(self._heap, (due if due is not None else time.monotonic(), next(self._order), actor))
            self._cond.notify()

    @property
    def active(self) -> int:
        with self._cond:
            return self._running

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every actor has finished; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._running:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining if remaining is not None else 1.0)
            return True

    def stop(self) -> None:
        """Stop stepping; actors still scheduled are dropped."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(5)

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    if self._heap:
                        due = self._heap[0][0]
                        delay = due - time.monotonic()
                        if delay <= 0:
                            _, _, actor = heapq.heappop(self._heap)
                            break
                        self._cond.wait(delay)
                    else:
                        self._cond.wait()
            try:
                again = actor.step(time.monotonic())
            except Exception as exc:  # one broken caller must not stop the day
                log.debug("actor %r failed: %s", actor, exc)
                again = None
                try:
                    actor.failed(exc)
                finally:
                    if self._on_error is not None:
                        self._on_error(exc)
            with self._cond:
                if again is None:
                    self._running -= 1
                    self._cond.notify_all()
                else:
                    heapq.heappush(self._heap, (again, next(self._order), actor))
                    self._cond.notify()
