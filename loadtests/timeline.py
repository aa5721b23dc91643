"""Per-second request figures, for judging a run window by window (a fault, its recovery).

Pure data (no Locust import): the locustfile feeds `Timeline.add` from Locust's `request`
event, and the gate reads the buckets back from stats.json. Each bucket is keyed by the
epoch second in which its requests started, so the gate can line them up with the times it
injected a fault. Latencies are kept as a histogram rounded the way Locust rounds them
(whole ms below 100 ms, 10 ms below 1 s, 100 ms above), so any span's p95 is exact to
Locust's own precision.
"""

from __future__ import annotations

from collections.abc import Iterable


def rounded_ms(ms: float) -> int:
    if ms < 100:
        return int(round(ms))
    if ms < 1000:
        return int(round(ms, -1))
    return int(round(ms, -2))


def new_bucket() -> dict:
    # `endpoints`: the same histogram per request name ("GET /v1/events/{id}"), so a span's
    # per-endpoint p95 can be judged too (a fault run judges latency outside its faults).
    return {"requests": 0, "failures": 0, "http_5xx": 0, "http_503_retry_after": 0, "latency_ms": {},
            "endpoints": {}}


def _count(histogram: dict[str, int], key: str, n: int = 1) -> None:
    histogram[key] = histogram.get(key, 0) + n


class Timeline:
    def __init__(self) -> None:
        self.buckets: dict[int, dict] = {}

    def add(self, *, start_time: float, response_time_ms: float, failed: bool,
            status: int | None, retry_after: bool, endpoint: str | None = None) -> None:
        b = self.buckets.setdefault(int(start_time), new_bucket())
        b["requests"] += 1
        b["failures"] += int(failed)
        if status is not None and 500 <= status <= 599:
            b["http_5xx"] += 1
            if status == 503 and retry_after:
                b["http_503_retry_after"] += 1
        key = str(rounded_ms(response_time_ms))
        _count(b["latency_ms"], key)
        if endpoint is not None:
            _count(b["endpoints"].setdefault(endpoint, {}), key)

    def as_list(self) -> list[dict]:
        return [{"t": t, **b} for t, b in sorted(self.buckets.items())]

    def take(self) -> list[dict]:
        """The buckets so far, emptied: what a Locust worker reports to its master."""
        out, self.buckets = self.as_list(), {}
        return out

    def absorb(self, buckets: Iterable[dict]) -> None:
        """Add buckets a worker reported (`take`'s output) to this timeline."""
        for b in buckets:
            t = int(b["t"])
            fields = {k: v for k, v in b.items() if k != "t"}
            self.buckets[t] = merge([self.buckets.get(t, new_bucket()), fields])


def merge(buckets: Iterable[dict]) -> dict:
    """The sum of several buckets (a window)."""
    out = new_bucket()
    for b in buckets:
        for k in ("requests", "failures", "http_5xx", "http_503_retry_after"):
            out[k] += b[k]
        for ms, n in b["latency_ms"].items():
            _count(out["latency_ms"], ms, n)
        for name, histogram in b.get("endpoints", {}).items():
            into = out["endpoints"].setdefault(name, {})
            for ms, n in histogram.items():
                _count(into, ms, n)
    return out


def percentile(latency_ms: dict[str, int], q: float) -> float:
    """The q-quantile (0..1) of a rounded-latency histogram; 0 when it is empty."""
    total = sum(latency_ms.values())
    if not total:
        return 0
    rank = q * total
    seen = 0
    for ms in sorted(latency_ms, key=float):
        seen += latency_ms[ms]
        if seen >= rank:
            return float(ms)
    return float(max(latency_ms, key=float))
