"""Multi-window, multi-burn-rate SLO alerts (Google SRE workbook, ch. 5) and the recording rules they read.

Two SLIs come from the profile:

- availability: the share of 5xx answers; objective `slo.availability`.
- latency: the share of requests slower than `slo.p95Ms`; objective 0.95, because a p95
  target says 95% of requests are at least that fast.

The error budget is 1 - objective. A burn rate of N spends the budget N times faster
than the SLO period allows. Each alert needs a long and a short window above the same
threshold: the long window proves the burn is real, the short one stops the alert soon
after the burn ends. Pure functions: no Pulumi import, shared with `loadline local`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loadline.profile import Profile

API_JOB = "loadline-api"
GROUP = "loadline-slo-burn"
SLO_PERIOD = "30d"
"""The window the error budget is counted over on the dashboards."""
LATENCY_OBJECTIVE = 0.95

# The service's histogram buckets (app/metrics.py BUCKETS; a test keeps the two equal).
# The latency SLI reads the bucket counts around slo.p95Ms, so the rules must know them.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

_REQ = f'http_request_duration_seconds_count{{job="{API_JOB}"}}'
_ERR = f'http_request_duration_seconds_count{{job="{API_JOB}",status=~"5.."}}'


@dataclass(frozen=True)
class BurnWindow:
    long: str
    short: str
    factor: float
    severity: str
    for_: str


# The workbook's recommended pairs: 2% of a 30-day budget in 1h, 5% in 6h page;
# 10% in 1d and 10% in 3d open a ticket.
BURN_WINDOWS = (
    BurnWindow("1h", "5m", 14.4, "page", "2m"),
    BurnWindow("6h", "30m", 6.0, "page", "2m"),
    BurnWindow("1d", "2h", 3.0, "ticket", "15m"),
    BurnWindow("3d", "6h", 1.0, "ticket", "15m"),
)
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


@dataclass(frozen=True)
class Sli:
    slo: str
    """The `slo` label: the profile target this SLI guards."""
    alert_prefix: str
    record: str
    """Recording-rule stem; `<record>:ratio_rate<window>` is the bad-event ratio."""
    objective: float
    what: str
    """The bad event, in words."""
    title: str
    """A short name for dashboards."""

    @property
    def budget(self) -> float:
        return 1 - self.objective


def num(value: float) -> str:
    """A number as PromQL text without float noise (0.1 not 0.1000000000000000055)."""
    return f"{value:.10g}"


def le(bound: float) -> str:
    # prometheus_client writes bucket bounds like Go's strconv: 1.0 stays "1.0".
    text = repr(float(bound))
    return text if "e" not in text else num(bound)


def _bucket_rate(bound: float, window: str) -> str:
    return (f'sum(rate(http_request_duration_seconds_bucket{{job="{API_JOB}",le="{le(bound)}"}}[{window}]))')


def bracket(threshold_s: float) -> tuple[float | None, float, float]:
    """(lower bound or None, upper bound, fraction of the way from lower to upper) for a latency.

    On a bound, only that bucket counts. Above the last finite bucket the last bucket is
    used: requests slower than it count as slow."""
    bounds = list(LATENCY_BUCKETS)
    if threshold_s in bounds:
        return None, threshold_s, 1.0
    if threshold_s > bounds[-1]:
        return None, bounds[-1], 1.0
    upper = next(b for b in bounds if b > threshold_s)
    lower = max((b for b in bounds if b < threshold_s), default=None)
    base = lower or 0.0
    return lower, upper, (threshold_s - base) / (upper - base)


def fast_requests(threshold_s: float, window: str) -> str:
    """Requests per second at or under `threshold_s`, from the histogram.

    Between two bucket bounds the count is interpolated linearly, as histogram_quantile
    does, so the latency SLI and the p95 alert agree."""
    lower, upper, fraction = bracket(threshold_s)
    if fraction == 1.0:
        return _bucket_rate(upper, window)
    low_rate = _bucket_rate(lower, window) if lower is not None else "0"
    return f"({low_rate} + ({_bucket_rate(upper, window)} - {low_rate}) * {num(fraction)})"


def slis(profile: Profile) -> list[Sli]:
    slo = profile.slo
    return [
        Sli("availability", "LoadlineApiAvailability", "loadline:api_errors", slo.availability,
            "5xx share", "availability (5xx)"),
        Sli("p95_ms", "LoadlineApiLatency", "loadline:api_slow_requests", LATENCY_OBJECTIVE,
            f"share of requests slower than {num(slo.p95_ms)} ms", f"latency (slower than {num(slo.p95_ms)} ms)"),
    ]


def _bad_ratio(sli: Sli, profile: Profile, window: str) -> str:
    if sli.slo == "availability":
        return f"(sum(rate({_ERR}[{window}])) or vector(0)) / sum(rate({_REQ}[{window}]))"
    return f"1 - {fast_requests(profile.slo.p95_ms / 1000, window)} / sum(rate({_REQ}[{window}]))"


def _bad_rate5m(sli: Sli, profile: Profile) -> str:
    if sli.slo == "availability":
        return f"sum(rate({_ERR}[5m])) or vector(0)"
    return f"sum(rate({_REQ}[5m])) - {fast_requests(profile.slo.p95_ms / 1000, '5m')}"


def recording_rules(profile: Profile) -> list[dict[str, Any]]:
    """Bad-event ratios over every window the alerts read, and the budget left over SLO_PERIOD."""
    rules: list[dict[str, Any]] = [{"record": "loadline:api_requests:rate5m", "expr": f"sum(rate({_REQ}[5m]))"}]
    for sli in slis(profile):
        rules += [{"record": f"{sli.record}:ratio_rate{w}", "expr": _bad_ratio(sli, profile, w)} for w in WINDOWS]
        rules.append({"record": f"{sli.record}:rate5m", "expr": _bad_rate5m(sli, profile)})
        # Summing the 5m rates weighs each moment by its traffic, and quiet minutes (0/0)
        # cannot turn the whole period into NaN as an average of ratios would.
        rules.append({
            "record": "loadline:slo_error_budget:remaining_ratio",
            "expr": (f"1 - (sum_over_time({sli.record}:rate5m[{SLO_PERIOD}])"
                     f" / sum_over_time(loadline:api_requests:rate5m[{SLO_PERIOD}])) / {num(sli.budget)}"),
            "labels": {"slo": sli.slo},
        })
    return rules


def alert_name(sli: Sli, window: BurnWindow) -> str:
    return f"{sli.alert_prefix}BudgetBurn{window.long}"


def threshold(sli: Sli, window: BurnWindow) -> float:
    return window.factor * sli.budget


def burn_alerts(profile: Profile) -> list[dict[str, Any]]:
    env = profile.environment
    alerts = []
    for sli in slis(profile):
        for w in BURN_WINDOWS:
            limit = num(threshold(sli, w))
            alerts.append({
                "alert": alert_name(sli, w),
                "expr": (f"{sli.record}:ratio_rate{w.long} > {limit}"
                         f" and {sli.record}:ratio_rate{w.short} > {limit}"),
                "for": w.for_,
                "labels": {"environment": env, "severity": w.severity, "slo": sli.slo,
                           "long_window": w.long, "short_window": w.short, "burn_rate": num(w.factor)},
                "annotations": {
                    "summary": f"{env} {sli.slo} error budget burning {num(w.factor)}x too fast",
                    "description": (f"The {sli.what} over {w.long} and over {w.short} is above {limit}: "
                                    f"{num(w.factor)} x the error budget of {num(sli.budget)} "
                                    f"(objective {num(sli.objective)}). At this rate a {SLO_PERIOD} budget "
                                    f"lasts {num(30 * 24 / w.factor)} hours."),
                },
            })
    return alerts


def burn_rate_group(profile: Profile) -> dict[str, Any]:
    """One group: rules in a group run in order, so each alert reads ratios of the same evaluation."""
    return {"name": GROUP, "rules": recording_rules(profile) + burn_alerts(profile)}
