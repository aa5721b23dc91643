"""When a run has clearly lost a target, so it can stop early (`loadline loadtest --abort-on-fail`).

Like k6's `abortOnFail`: a target is clearly lost when, over the last `window_s` seconds,
the error ratio is at `factor` times its target or above, or the p95 is. Pure (no Locust
import): the locustfile's master feeds it the per-second timeline (loadtests/timeline.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loadtests.timeline import merge, percentile

# Fewer requests than this in the window say too little to stop a run on.
MIN_REQUESTS = 20


@dataclass(frozen=True)
class AbortRule:
    max_error_ratio: float
    p95_ms: float
    factor: float = 10.0
    window_s: int = 10

    def check(self, buckets: list[dict[str, Any]], now_s: int) -> str | None:
        """The reason to stop, judged on the `window_s` full seconds before `now_s` (epoch s)."""
        window = [b for b in buckets if now_s - self.window_s <= b["t"] < now_s]
        seconds = {b["t"] for b in window}
        if len(seconds) < self.window_s:
            return None
        total = merge(window)
        if total["requests"] < MIN_REQUESTS:
            return None
        ratio = total["failures"] / total["requests"]
        limit = self.factor * self.max_error_ratio
        if ratio >= limit and ratio > 0:
            return (f"error ratio {ratio:.3f} over the last {self.window_s} s is at least {self.factor:g}x "
                    f"its target {self.max_error_ratio:g}")
        p95 = percentile(total["latency_ms"], 0.95)
        if p95 >= self.factor * self.p95_ms:
            return (f"p95 {p95:g} ms over the last {self.window_s} s is at least {self.factor:g}x "
                    f"its target {self.p95_ms:g} ms")
        return None
