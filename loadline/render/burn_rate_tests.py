"""promtool unit tests for the burn-rate alerts, generated from the same profile as the rules.

For each window pair, the series carry 5xx answers and slow requests at chosen shares
of the traffic, and every case checks both SLIs (availability and latency) at once:

- burning: 1.25 x this pair's threshold, which is under the next faster pair's. This
  pair fires; the faster pairs stay silent.
- below: 0.8 x this pair's threshold. Silent. With the burning case, this pins every
  threshold within 0.8-1.25 of what the profile implies.
- spike: clean traffic, then a burn over the short window only. The long window is
  still under the threshold, so the alert stays silent (the long window proves the burn).
  The clean part is as long as the burn: the long window reaches back past the first
  sample, so it sees the two in that proportion.
- recovered: a burn that ended a little more than a short window ago. The long window
  is still over the threshold, so the alert stays silent (the short window resets it).

Shares are built exactly: fast requests sit in the bucket at or below `slo.p95Ms`, slow
ones above the next bucket, so the interpolated latency SLI counts them without error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.monitoring.slo_burn import (
    API_JOB,
    BURN_WINDOWS,
    BurnWindow,
    Sli,
    alert_name,
    bracket,
    burn_alerts,
    le,
    num,
    slis,
    threshold,
)
from loadline.profile import Profile

_PER_MIN = 100_000  # requests per minute: integer counts even for a 0.1% budget at 0.8x


def minutes(window: str) -> int:
    unit = {"m": 1, "h": 60, "d": 1440}[window[-1]]
    return int(window[:-1]) * unit


@dataclass(frozen=True)
class _Shares:
    errors: float
    """Share of the traffic answered with 5xx while burning."""
    slow: float
    """Share of the traffic slower than slo.p95Ms while burning."""


def _burning_share(sli: Sli, window: BurnWindow) -> float:
    """1.25x this pair's threshold, under the next faster pair's (and under 100%)."""
    share = min(1.25 * threshold(sli, window), (threshold(sli, window) + 1) / 2)
    assert all(share < threshold(sli, w) for w in BURN_WINDOWS if w.factor > window.factor)
    return share


def _shares(profile: Profile, pick) -> _Shares:
    by_slo = {sli.slo: pick(sli) for sli in slis(profile)}
    return _Shares(errors=by_slo["availability"], slow=by_slo["p95_ms"])


def _counter(phases: list[tuple[int, float]], step_min: int) -> str:
    """promtool values for a counter growing by `rate` per minute in each (minutes, rate) phase,
    sampled every `step_min` minutes (phase lengths are multiples of it)."""
    parts, value = [], 0.0
    for i, (length, rate) in enumerate(phases):
        inc = rate * step_min
        # The first phase starts with the sample at 0; later ones continue one step on.
        start = value if i == 0 else value + inc
        steps = length // step_min - (0 if i == 0 else 1)
        parts.append(f"{num(start)}+{num(inc)}x{steps}")
        value = start + inc * steps
    return " ".join(parts)


def _series(profile: Profile, bad: _Shares, phases: list[tuple[int, bool]], step_min: int) -> list[dict[str, str]]:
    """Four label sets (ok/5xx x fast/slow), each with the buckets the rules read.

    During phases marked True the traffic carries `bad`'s shares; during the others it is
    all fast and ok. The request rate is the same in both, so shares are exact."""
    n = _PER_MIN
    errors, slow = round(bad.errors * n), round(bad.slow * n)
    overlap = max(0, errors + slow - n)
    groups = {  # (status, speed) -> requests/min while burning, while clean
        ("500", "fast"): (errors - overlap, 0),
        ("500", "slow"): (overlap, 0),
        ("200", "slow"): (slow - overlap, 0),
        ("200", "fast"): (n - errors - slow + overlap, n),
    }
    lower, upper, _ = bracket(profile.slo.p95_ms / 1000)
    bounds = [b for b in (lower, upper) if b is not None]
    out = []
    for (status, speed), (burning, clean) in groups.items():
        sel = f'job="{API_JOB}",route="/v1/events",method="GET",status="{status}",speed="{speed}"'
        total = _counter([(length, burning if on else clean) for length, on in phases], step_min)
        fast = total if speed == "fast" else _counter([(length, 0) for length, _ in phases], step_min)
        for bound in bounds:
            out.append({"series": f'http_request_duration_seconds_bucket{{{sel},le="{le(bound)}"}}', "values": fast})
        out.append({"series": f'http_request_duration_seconds_bucket{{{sel},le="+Inf"}}', "values": total})
        out.append({"series": f"http_request_duration_seconds_count{{{sel}}}", "values": total})
    return out


def _expected(profile: Profile, sli: Sli, window: BurnWindow) -> list[dict[str, Any]]:
    rule = next(r for r in burn_alerts(profile) if r["alert"] == alert_name(sli, window))
    return [{"exp_labels": dict(rule["labels"]), "exp_annotations": dict(rule["annotations"])}]


def _group(series: list[dict[str, str]], step_min: int,
           checks: list[tuple[int, str, list[dict[str, Any]]]]) -> dict[str, Any]:
    return {"interval": f"{step_min}m", "input_series": series,
            "alert_rule_test": [{"eval_time": f"{at}m", "alertname": alert, "exp_alerts": exp}
                                for at, alert, exp in checks]}


def step_minutes(window: BurnWindow) -> int:
    """Sample and evaluation step for a pair: six steps per short window.

    A step as fine as a minute over a 3-day window would take promtool minutes; the
    short window still holds enough samples for rate() (at least three, even with
    left-open ranges)."""
    return max(1, minutes(window.short) // 6)


def _ceil(value: int, step: int) -> int:
    return -(-value // step) * step


def window_tests(profile: Profile, window: BurnWindow) -> dict[str, Any]:
    """A promtool test file for one window pair, both SLIs, evaluated at the pair's step."""
    step = step_minutes(window)
    long_m, short_m = minutes(window.long), minutes(window.short)
    hold = _ceil(minutes(window.for_), step)
    # Faster pairs are checked only where this step leaves their short window >= 3 samples.
    faster = [w for w in BURN_WINDOWS if w.factor > window.factor and minutes(w.short) >= 3 * step]
    groups = []

    # Constant burn from the start: both windows see the same share once they hold two
    # samples, so the alert is due after its `for`.
    at = short_m + hold + 2 * step
    burning = _shares(profile, lambda s: _burning_share(s, window))
    checks = []
    for sli in slis(profile):
        checks.append((at, alert_name(sli, window), _expected(profile, sli, window)))
        checks += [(at, alert_name(sli, w), []) for w in faster]
    groups.append(_group(_series(profile, burning, [(at + step, True)], step), step, checks))

    below = _shares(profile, lambda s: 0.8 * threshold(s, window))
    groups.append(_group(_series(profile, below, [(at + step, True)], step), step,
                         [(at, alert_name(sli, window), []) for sli in slis(profile)]))

    # Clean traffic, then a burn over the short window and `for`. The long window reaches
    # back past the first sample, so it holds the burn diluted by the clean part alone: as
    # long a clean part as the burn halves it. (A full long window of clean traffic would
    # prove no more and cost promtool a long window of evaluation steps.)
    spike = short_m + hold + 2 * step
    clean = spike
    assert clean + spike < long_m, window
    for sli in slis(profile):
        assert _burning_share(sli, window) * spike / (clean + spike) < threshold(sli, window), (sli.slo, window)
    groups.append(_group(_series(profile, burning, [(clean, False), (spike + step, True)], step), step,
                         [(clean + spike, alert_name(sli, window), []) for sli in slis(profile)]))

    # A burn of six short windows, then clean traffic for a short window and two steps.
    burn = 6 * short_m
    at = burn + short_m + 2 * step
    assert at < long_m
    total = _shares(profile, lambda s: min(1.0, 1.3 * threshold(s, window) * at / burn))
    for sli, share in zip(slis(profile), (total.errors, total.slow), strict=True):
        # The long window holds all of it: its share stays over the threshold.
        assert share * burn / at > threshold(sli, window), (sli.slo, window)
    groups.append(_group(_series(profile, total, [(burn, True), (at - burn + step, False)], step), step,
                         [(at, alert_name(sli, window), []) for sli in slis(profile)]))
    return {"evaluation_interval": f"{step}m", "tests": groups}


def burn_rate_tests(profile: Profile, rule_file: str = "rules.yml") -> dict[str, dict[str, Any]]:
    """File name -> promtool test file, one per window pair (each needs its own evaluation step)."""
    return {f"burn_rate_{w.long}_test.yml": {"rule_files": [rule_file], **window_tests(profile, w)}
            for w in BURN_WINDOWS}
