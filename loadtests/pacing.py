"""Constant pacing for an arrival-rate load, with a count of the iterations that fell behind.

Like Locust's `constant_throughput`, a user waits what is left of its interval after
each request. An iteration whose request outlasted the interval is *late*: that user
offered less than its share, because the server, not the schedule, set its pace. The
gate reports the late share (how exposed the run is to coordinated omission). No
Locust import, so it is testable on its own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class Pacer:
    """One per process: every user of the process shares its counters."""

    def __init__(self, per_user_rps: float, clock: Callable[[], float] = time.monotonic):
        if per_user_rps <= 0:
            raise ValueError(f"per-user rate must be > 0, got {per_user_rps}")
        self.interval = 1.0 / per_user_rps
        self.clock = clock
        self.iterations = 0
        self.late = 0
        # Iterations the users were due while they lived: what was really offered.
        self.due = 0.0

    def first_delay(self) -> float:
        """A random phase within one interval, so users started together do not fire together."""
        return random.uniform(0, self.interval)

    def wait(self, started_at: float) -> float:
        """Seconds to wait after an iteration that started at `started_at`."""
        took = self.clock() - started_at
        self.iterations += 1
        if took > self.interval:
            self.late += 1
            return 0.0
        return self.interval - took

    def user_stopped(self, alive_since: float) -> None:
        """A user that lived from `alive_since` until now was due one iteration per interval
        (its random first phase costs nothing on average)."""
        self.due += max(0.0, self.clock() - alive_since) / self.interval

    def take_counts(self) -> tuple[int, int, float]:
        """(iterations, late, due) since the last call; resets them (for reports to the master)."""
        counts = (self.iterations, self.late, self.due)
        self.iterations = self.late = 0
        self.due = 0.0
        return counts
