"""A small progress bar on stderr: redrawn in place on a terminal, a line now and then otherwise."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    def __init__(self, total: float, stream=None, enabled: bool = True, width: int = 28):
        self.total = max(total, 1e-9)
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0
        self._last_line_fraction = -1.0

    def update(self, done: float, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        fraction = max(0.0, min(1.0, done / self.total))
        if self.tty:
            if not force and now - self._last < 0.2:
                return
            filled = int(fraction * self.width)
            self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%} {text}\x1b[K")
            self.stream.flush()
        elif force or fraction - self._last_line_fraction >= 0.1 or now - self._last > 15:
            self.stream.write(f"{fraction:4.0%} {text}\n")
            self.stream.flush()
            self._last_line_fraction = fraction
        self._last = now

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def sim_clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
