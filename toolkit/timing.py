"""A stopwatch that records named steps, for the timings export and parity report."""

from __future__ import annotations

import time


class Laps:
    """`lap(step)` records the seconds since the previous lap (or the start); `total` since the start."""

    def __init__(self) -> None:
        self.started = self._last = time.perf_counter()
        self.steps: list[tuple[str, float]] = []

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.steps.append((step, round(now - self._last, 3)))
        self._last = now

    @property
    def total(self) -> float:
        return round(time.perf_counter() - self.started, 2)
