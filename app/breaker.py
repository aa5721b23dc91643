"""A circuit breaker for Redis: closed, open, half-open, with exponential backoff and jitter.

Closed: every call goes to Redis; `threshold` failures in a row open the breaker.
Open: calls skip Redis until a retry time, `min(cap, base * 2**(trips in a row - 1))`
seconds away, drawn with equal jitter (between half and all of it), so the workers of
every replica do not probe a recovering Redis in the same instant.
Half-open: one call (the probe) goes to Redis, the others still skip it; the probe's
success closes the breaker, its failure opens it again for a longer backoff. A probe
that never reports (its request was cancelled) is replaced after `base` seconds.

Written here rather than taken from a library: see docs/dependencies.md.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

CLOSED, HALF_OPEN, OPEN = 0, 1, 2
STATE_NAMES = {CLOSED: "closed", HALF_OPEN: "half-open", OPEN: "open"}


class Breaker:
    def __init__(self, *, threshold: int, base_s: float, cap_s: float,
                 clock: Callable[[], float] = time.monotonic, rand: Callable[[], float] = random.random,
                 on_state: Callable[[int], None] | None = None, on_trip: Callable[[], None] | None = None):
        if threshold < 1:
            raise ValueError("threshold: at least 1")
        if not 0 <= base_s <= cap_s:
            raise ValueError("base_s and cap_s: need 0 <= base_s <= cap_s")
        self.threshold, self.base_s, self.cap_s = threshold, base_s, cap_s
        self._clock, self._rand = clock, rand
        self._on_state, self._on_trip = on_state, on_trip
        self.state = CLOSED
        self.failures = 0  # in a row, while closed
        self.trips = 0  # opens in a row since the breaker last closed
        self.retry_at = 0.0
        if on_state:
            on_state(CLOSED)

    @property
    def name(self) -> str:
        return STATE_NAMES[self.state]

    def allow(self) -> bool:
        """May this call go to Redis? (In half-open, True makes the caller the probe.)"""
        if self.state == CLOSED:
            return True
        now = self._clock()
        if now < self.retry_at:
            return False
        if self.state == OPEN:
            self._set(HALF_OPEN)
        # The probe's slot is held for `base` seconds; after that a silent probe is presumed lost.
        self.retry_at = now + self.base_s
        return True

    def success(self) -> None:
        if self.state == CLOSED:
            self.failures = 0
            return
        # A late success from a call that started before the breaker opened proves nothing.
        if self.state == HALF_OPEN:
            self.failures = self.trips = 0
            self._set(CLOSED)

    def failure(self) -> None:
        if self.state == CLOSED:
            self.failures += 1
            if self.failures >= self.threshold:
                self._open()
        elif self.state == HALF_OPEN:
            self._open()
        # Open: a call that started before the breaker opened; the backoff already runs.

    def retry_in_s(self) -> float:
        return max(0.0, self.retry_at - self._clock())

    def backoff_s(self, trips: int) -> float:
        """The longest open period after `trips` opens in a row (before jitter)."""
        return min(self.cap_s, self.base_s * 2 ** min(trips - 1, 62))

    def _open(self) -> None:
        self.trips += 1
        self.failures = 0
        longest = self.backoff_s(self.trips)
        self.retry_at = self._clock() + longest / 2 + self._rand() * longest / 2
        self._set(OPEN)
        if self._on_trip:
            self._on_trip()

    def _set(self, state: int) -> None:
        self.state = state
        if self._on_state:
            self._on_state(state)
