"""Simulated time: `speed` simulated seconds pass per real second."""

from __future__ import annotations

import time
from datetime import datetime


class SimClock:
    def __init__(self, speed: float):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self.start()

    def start(self) -> None:
        """Simulated time zero is now."""
        self.t0 = time.monotonic()
        self.wall0 = time.time()

    def now(self) -> float:
        """Simulated seconds since the start."""
        return (time.monotonic() - self.t0) * self.speed

    def real(self, sim_seconds: float) -> float:
        """Real seconds that `sim_seconds` of simulated time take."""
        return max(0.0, sim_seconds) / self.speed

    def deadline(self, sim_seconds: float) -> float:
        """The monotonic instant at which simulated time reaches `sim_seconds`."""
        return self.t0 + self.real(sim_seconds)

    def poll(self, sim_seconds: float, lowest: float, highest: float) -> float:
        """A polling interval of about `sim_seconds` simulated, kept between `lowest` and `highest` real."""
        return min(highest, max(lowest, self.real(sim_seconds)))

    def sim_of(self, moment: datetime | None) -> float | None:
        """Simulated seconds since the start at a wall-clock `moment` (e.g. a ledger timestamp)."""
        if moment is None:
            return None
        return (moment.timestamp() - self.wall0) * self.speed
