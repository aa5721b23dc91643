"""The `fault` section of the verdict: the run cut into windows around each injected fault.

All figures come from the suite's per-second timeline (stats.json `timeline`), keyed by
the epoch second in which each request started, so they line up with the epoch times
at which the gate injected and restored each fault. Resolution is one second.

- during: from the second the fault was injected to the second it was restored;
- after: from there to the next fault, or the end of the run;
- recovery: from the fault's end to the first of RECOVERY_STABLE_S consecutive seconds in
  which the error ratio and p95 are back under the run's targets (slo.maxErrorRatio,
  slo.p95Ms); null when that never happens before the run ends. Seconds in which no
  request started are skipped (see `recovery_seconds`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from loadline.faults.schedule import Injection
from loadline.gate.decision import EndpointStats, RunStats, Targets
from loadline.gate.sections import Number, Ratio, Section
from loadline.profile import FaultTargets
from loadtests.timeline import merge, percentile

RECOVERY_STABLE_S = 3
LOST_IDS_SHOWN = 20


class Window(Section):
    """Requests that started inside one span of the run."""

    start_s: Number = Field(description="seconds since the load started")
    end_s: Number
    requests: int = Field(ge=0)
    failures: int = Field(ge=0)
    error_ratio: Ratio
    http_5xx: int = Field(ge=0, description="responses with a 5xx status")
    http_503_retry_after: int = Field(ge=0, description="of those, 503s that carried Retry-After")
    p95_ms: Number


class InjectedFault(Section):
    spec: str = Field(description="the --fault SPEC as given")
    kind: str
    target: str = Field(description="what was hit: processes, pods or workloads")
    at_s: Number = Field(description="planned start, seconds since the load started")
    for_s: Number = Field(description="planned length, seconds")
    started_at: str = Field(description="when it was injected (UTC, RFC 3339)")
    ended_at: str | None = Field(description="when it was restored (UTC, RFC 3339)")
    started_s: Number = Field(description="when it was injected, seconds since the load started")
    ended_s: Number = Field(description="when it was restored, seconds since the load started")
    during: Window
    after: Window
    recovery_seconds: Number | None = Field(
        description="from the fault's end until error ratio and p95 were back under target; null: never")


class Writes(Section):
    acknowledged: int = Field(ge=0, description="creates answered 201 during the run")
    lost: int = Field(ge=0, description="acknowledged creates that could not be read back")
    lost_ids: list[str] = Field(description=f"the first {LOST_IDS_SHOWN} lost ids")
    checked_in: str = Field(description='"postgres" (read from the database) or "api" (GET by id)')


class FaultTargetsResult(Section):
    max_error_ratio: Ratio
    max_recovery_seconds: Number
    max_lost_writes: int = Field(0, description="always 0")


class FaultReport(Section):
    """What was injected, what the service did meanwhile, and whether it met the fault targets."""

    passed: bool
    targets: FaultTargetsResult
    injected: list[InjectedFault]
    writes: Writes
    failures: list[str]


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _window(buckets: list[dict[str, Any]], lo: int, hi: int, load_start: float) -> Window:
    """Buckets with lo <= t < hi (epoch seconds)."""
    m = merge(b for b in buckets if lo <= b["t"] < hi)
    return Window(start_s=round(lo - load_start, 1), end_s=round(hi - load_start, 1),
                  requests=m["requests"], failures=m["failures"],
                  error_ratio=round(m["failures"] / m["requests"], 6) if m["requests"] else 0.0,
                  http_5xx=m["http_5xx"], http_503_retry_after=m["http_503_retry_after"],
                  p95_ms=percentile(m["latency_ms"], 0.95))


def _good(bucket: dict[str, Any], targets: Targets) -> bool:
    n = bucket["requests"]
    return (bucket["failures"] / n <= targets.max_error_ratio
            and percentile(bucket["latency_ms"], 0.95) <= targets.p95_ms)


def recovery_seconds(buckets: list[dict[str, Any]], end: float, until: int, targets: Targets) -> float | None:
    """Seconds from `end` to the first of RECOVERY_STABLE_S good seconds in a row, looking at the
    seconds from the one `end` falls in up to `until` (exclusive); None when there are none.

    A second in which no request started says nothing about the service (the load generator
    paused, e.g. a Locust worker stalled on a busy machine): it is skipped, neither breaking
    a streak nor counting in it. A slow server still shows, in the seconds its slow requests
    started. A streak cut short by `until` (the run's end, or the next fault) counts when all
    the seconds it has are good.
    """
    first = math.floor(end)
    seconds = sorted((b for b in buckets if first <= b["t"] < until and b["requests"] > 0), key=lambda b: b["t"])
    for i, bucket in enumerate(seconds):
        if all(_good(s, targets) for s in seconds[i:i + RECOVERY_STABLE_S]):
            return round(max(0.0, float(bucket["t"]) - end), 1)
    return None


def fault_report(injections: list[Injection], *, load_start: float, timeline: list[dict[str, Any]],
                 targets: Targets, fault_targets: FaultTargets, acknowledged: int,
                 lost_ids: list[str], checked_in: str) -> FaultReport:
    run_end = (timeline[-1]["t"] + 1) if timeline else math.ceil(load_start)
    injected: list[InjectedFault] = []
    failures: list[str] = []
    for i, inj in enumerate(injections):
        started = inj.started_at if inj.started_at is not None else load_start
        ended = inj.ended_at if inj.ended_at is not None else started
        nxt = injections[i + 1].started_at if i + 1 < len(injections) else None
        after_end = math.floor(nxt) if nxt is not None else run_end
        during = _window(timeline, math.floor(started), math.ceil(ended), load_start)
        after = _window(timeline, math.ceil(ended), after_end, load_start)
        recovery = recovery_seconds(timeline, ended, after_end, targets)
        injected.append(InjectedFault(
            spec=inj.spec.text, kind=inj.spec.kind.name, target=inj.target or "-",
            at_s=inj.spec.at_s, for_s=inj.spec.for_s, started_at=_iso(started) or "",
            ended_at=_iso(inj.ended_at), started_s=round(started - load_start, 2),
            ended_s=round(ended - load_start, 2), during=during, after=after, recovery_seconds=recovery))
        failures += _judge(inj, during, after, recovery, fault_targets)
    if lost_ids:
        failures.append(f"writes: {len(lost_ids)} of {acknowledged} acknowledged creates were lost "
                        f"(e.g. {', '.join(lost_ids[:3])})")
    return FaultReport(
        passed=not failures,
        targets=FaultTargetsResult(max_error_ratio=fault_targets.max_error_ratio,
                                   max_recovery_seconds=fault_targets.max_recovery_seconds),
        injected=injected,
        writes=Writes(acknowledged=acknowledged, lost=len(lost_ids), lost_ids=lost_ids[:LOST_IDS_SHOWN],
                      checked_in=checked_in),
        failures=failures)


def _judge(inj: Injection, during: Window, after: Window, recovery: float | None,
           targets: FaultTargets) -> list[str]:
    where = f"fault {inj.spec.text}"
    if inj.error:
        return [f"{where}: {inj.error}"]
    out = []
    if inj.spec.kind.outage:
        # The source of truth is down: the promise is an honest 503 + Retry-After, never a 500.
        other = during.failures - during.http_503_retry_after
        if other:
            out.append(f"{where}: {other} of {during.failures} failed requests during the outage "
                       "were not 503 with Retry-After")
    else:
        requests = during.requests + after.requests
        failed = during.failures + after.failures
        ratio = failed / requests if requests else 0.0
        if ratio > targets.max_error_ratio:
            out.append(f"{where}: error ratio {ratio:.4f} ({failed}/{requests}) from the fault to the "
                       f"end exceeds target {targets.max_error_ratio:g}")
        if during.http_5xx + after.http_5xx:
            out.append(f"{where}: {during.http_5xx + after.http_5xx} responses were 5xx; "
                       "the service must absorb this fault")
    if recovery is None:
        out.append(f"{where}: never recovered (error ratio and p95 back under target) before the run ended")
    elif recovery > targets.max_recovery_seconds:
        out.append(f"{where}: recovered in {recovery:g} s, target {targets.max_recovery_seconds:g} s")
    return out


def fault_spans(injections: list[Injection], report: FaultReport) -> list[tuple[float, float]]:
    """[start, end) epoch seconds of each fault and its recovery (to the end when it never recovered)."""
    spans: list[tuple[float, float]] = []
    for inj, fault in zip(injections, report.injected, strict=False):
        start = math.floor(inj.started_at or 0)
        end = (inj.ended_at or inj.started_at or 0) + (fault.recovery_seconds or 0)
        spans.append((start, math.ceil(end) if fault.recovery_seconds is not None else math.inf))
    return spans


def _outside(timeline: list[dict[str, Any]], spans: list[tuple[float, float]]) -> list[dict[str, Any]]:
    return [b for b in timeline if not any(lo <= b["t"] < hi for lo, hi in spans)]


def steady_errors(timeline: list[dict[str, Any]], injections: list[Injection], report: FaultReport) -> tuple[int, int]:
    """(failures, requests) outside every fault and its recovery: what the run's own error target judges."""
    kept = _outside(timeline, fault_spans(injections, report))
    return sum(b["failures"] for b in kept), sum(b["requests"] for b in kept)


def _stats(histogram: dict[str, int], seconds: int, failures: int = 0) -> EndpointStats:
    n = sum(histogram.values())
    return EndpointStats(requests=n, failures=failures, p50_ms=percentile(histogram, 0.50),
                         p95_ms=percentile(histogram, 0.95), p99_ms=percentile(histogram, 0.99),
                         rps=n / seconds if seconds else 0.0)


def latency_outside(timeline: list[dict[str, Any]], spans: list[tuple[float, float]]) -> RunStats:
    """Latency of the requests that started outside `spans`, overall and per endpoint: what the
    run's own p95 and p99 targets judge when part of the run is judged otherwise (a fault and its
    recovery, by the fault targets) or not at all (the warm-up)."""
    kept = _outside(timeline, spans)
    window = merge(kept)
    return RunStats(total=_stats(window["latency_ms"], len(kept), window["failures"]),
                    endpoints={name: _stats(h, len(kept)) for name, h in window["endpoints"].items()})
