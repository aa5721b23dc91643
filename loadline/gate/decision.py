"""Targets versus measured statistics: the pure decision of the gate.

A target is a limit the stack promises, so a measurement equal to its target
meets it (p95 <= p95Ms, rps >= minRps, error ratio <= maxErrorRatio). Latency
targets apply to the whole run and to every endpoint, because one slow endpoint
hides easily in a fast mix; throughput and error ratio are promises of the whole
service and apply to the total only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from loadline.profile import Slo


@dataclass(frozen=True)
class Targets:
    p95_ms: float
    min_rps: float
    max_error_ratio: float
    p99_ms: float | None = None

    @classmethod
    def from_slo(cls, slo: Slo, *, p95_ms: float | None = None, p99_ms: float | None = None,
                 min_rps: float | None = None, max_error_ratio: float | None = None) -> Targets:
        """The profile's targets, each replaced by its override when one is given."""
        return cls(
            p95_ms=slo.p95_ms if p95_ms is None else p95_ms,
            p99_ms=slo.p99_ms if p99_ms is None else p99_ms,
            min_rps=slo.min_rps if min_rps is None else min_rps,
            max_error_ratio=slo.max_error_ratio if max_error_ratio is None else max_error_ratio,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EndpointStats:
    """Complete statistics of one request name (or of the whole run)."""

    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float

    @property
    def error_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "failures": self.failures, "p50_ms": self.p50_ms,
                "p95_ms": self.p95_ms, "p99_ms": self.p99_ms, "rps": round(self.rps, 2),
                "error_ratio": round(self.error_ratio, 6)}


@dataclass(frozen=True)
class RunStats:
    total: EndpointStats
    endpoints: dict[str, EndpointStats] = field(default_factory=dict)  # "GET /v1/events/{id}" -> stats


@dataclass(frozen=True)
class Decision:
    passed: bool
    failures: list[str]


def _latency_failures(where: str, stats: EndpointStats, targets: Targets, basis: str = "") -> list[str]:
    """`basis` names the part of the run judged when it is not the whole (appended, so a
    sentence still starts with where it failed and what)."""
    tail = f" ({basis})" if basis else ""
    out = []
    if stats.p95_ms > targets.p95_ms:
        out.append(f"{where}: p95 {stats.p95_ms:g} ms exceeds target {targets.p95_ms:g} ms{tail}")
    if targets.p99_ms is not None and stats.p99_ms > targets.p99_ms:
        out.append(f"{where}: p99 {stats.p99_ms:g} ms exceeds target {targets.p99_ms:g} ms{tail}")
    return out


def decide(targets: Targets, stats: RunStats, *,
           error_basis: tuple[str, int, int] | None = None,
           latency_basis: tuple[str, RunStats] | None = None) -> Decision:
    """Compare every target with the run's complete statistics; describe each miss.

    `error_basis` (where, failures, requests) and `latency_basis` (where, statistics) judge
    the error ratio and the p95/p99 targets on part of the run instead of the whole: a run
    with injected faults leaves out each fault and its recovery, which the fault targets judge.
    """
    total = stats.total
    if total.requests == 0:
        return Decision(False, ["overall: no request completed, nothing to judge"])
    basis, latency = latency_basis if latency_basis else ("", stats)
    failures = _latency_failures("overall", latency.total, targets, basis)
    for name in sorted(latency.endpoints):
        failures += _latency_failures(name, latency.endpoints[name], targets, basis)
    if total.rps < targets.min_rps:
        failures.append(f"overall: throughput {total.rps:.2f} rps is below target {targets.min_rps:g} rps")
    where, failed, requests = error_basis or ("overall", total.failures, total.requests)
    ratio = failed / requests if requests else 0.0
    if ratio > targets.max_error_ratio:
        failures.append(
            f"{where}: error ratio {ratio:.4f} ({failed}/{requests}) "
            f"exceeds target {targets.max_error_ratio:g}")
    return Decision(not failures, failures)
