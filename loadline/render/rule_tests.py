"""promtool unit tests for `alert_rules(profile)`, generated from the same profile.

Each SLO alert gets a breach case (series built to land past the profile's
threshold: the alert must fire with its exact labels) and a compliant case (series
built to stay inside it: the alert must stay silent). Because the series are derived
from the thresholds, the tests follow every stack's numbers and fail if a rule's
expression, threshold, `for` or labels drift from what the profile promises.
"""

from __future__ import annotations

import math
from typing import Any

from components.monitoring.config import (
    API_JOB,
    CACHE_MIN_LOOKUPS_PER_S,
    HPA_NAME,
    POSTGRES_JOB,
    REDIS_JOB,
    _num,
    alert_rules,
)
from loadline.profile import Profile

_PER_MIN = 10000  # requests per minute in synthetic series: large enough for integer error counts


def _rule(rules: dict[str, Any], alert: str) -> dict[str, Any]:
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                return rule
    raise KeyError(alert)


def _expect(rule: dict[str, Any], **series_labels: str) -> list[dict[str, Any]]:
    return [{"exp_labels": {**series_labels, **rule["labels"]},
             "exp_annotations": dict(rule["annotations"])}]


def _counter(per_min: float, minutes: int) -> str:
    return f"0+{_num(per_min)}x{minutes}"


def _latency_case(threshold_s: float, quantile: float, breach: bool, minutes: int) -> list[dict[str, str]]:
    """Buckets at threshold/2 and 2*threshold. Breach: half the requests above threshold/2,
    so the interpolated quantile lands near 1.85x the threshold. Compliant: every request
    is under threshold/2."""
    low, high = threshold_s / 2, threshold_s * 2
    under_low = (1 - (1 - quantile) * 10) * _PER_MIN if breach else _PER_MIN
    sel = f'job="{API_JOB}",route="/v1/events/{{event_id}}",method="GET",status="200"'
    return [
        {"series": f'http_request_duration_seconds_bucket{{{sel},le="{_num(low)}"}}', "values": _counter(under_low, minutes)},
        {"series": f'http_request_duration_seconds_bucket{{{sel},le="{_num(high)}"}}', "values": _counter(_PER_MIN, minutes)},
        {"series": f'http_request_duration_seconds_bucket{{{sel},le="+Inf"}}', "values": _counter(_PER_MIN, minutes)},
        {"series": f"http_request_duration_seconds_count{{{sel}}}", "values": _counter(_PER_MIN, minutes)},
    ]


def _traffic(errors_per_min: float, minutes: int, total_per_min: float = _PER_MIN,
             error_values: str | None = None) -> list[dict[str, str]]:
    base = f'job="{API_JOB}",route="/v1/events",method="POST"'
    return [
        {"series": f'http_request_duration_seconds_count{{{base},status="500"}}',
         "values": error_values or _counter(errors_per_min, minutes)},
        {"series": f'http_request_duration_seconds_count{{{base},status="201"}}',
         "values": _counter(total_per_min - errors_per_min, minutes)},
    ]


def _case(series: list[dict[str, str]], eval_time: str, alert: str, expected: list[dict[str, Any]]) -> dict[str, Any]:
    return {"interval": "1m", "input_series": series,
            "alert_rule_test": [{"eval_time": eval_time, "alertname": alert, "exp_alerts": expected}]}


def rule_tests(profile: Profile, rule_file: str = "rules.yml") -> dict[str, Any]:
    """A promtool test file for the rules of `profile`, reading them from `rule_file`."""
    rules = alert_rules(profile)
    tests = [*_latency_tests(profile, rules), *_error_ratio_tests(profile, rules),
             *_throughput_tests(profile, rules), *_cache_hit_tests(profile, rules),
             *_dependency_tests(profile, rules), *_hpa_tests(profile, rules)]
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}


def _latency_tests(profile: Profile, rules: dict[str, Any]) -> list[dict[str, Any]]:
    slo = profile.slo
    latency = [("LoadlineApiLatencyP95High", 0.95, slo.p95_ms)]
    if slo.p99_ms is not None:
        latency.append(("LoadlineApiLatencyP99High", 0.99, slo.p99_ms))
    tests = []
    for alert, q, ms in latency:
        rule = _rule(rules, alert)
        tests.append(_case(_latency_case(ms / 1000, q, True, 20), "15m", alert, _expect(rule)))
        tests.append(_case(_latency_case(ms / 1000, q, False, 20), "15m", alert, []))
    return tests


def _error_ratio_tests(profile: Profile, rules: dict[str, Any]) -> list[dict[str, Any]]:
    ratio = profile.slo.max_error_ratio
    rule = _rule(rules, "LoadlineApiErrorRatioHigh")
    breach = min(_PER_MIN, math.ceil(_PER_MIN * ratio * 2) or 1)
    within = math.floor(_PER_MIN * ratio / 2)
    return [_case(_traffic(breach, 20), "15m", "LoadlineApiErrorRatioHigh", _expect(rule)),
            _case(_traffic(within, 20), "15m", "LoadlineApiErrorRatioHigh", [])]


def _throughput_tests(profile: Profile, rules: dict[str, Any]) -> list[dict[str, Any]]:
    min_rps = profile.slo.min_rps
    rule = _rule(rules, "LoadlineApiThroughputBelowTarget")
    tests = []
    if min_rps > 0:
        tests.append(_case(_traffic(0, 40, total_per_min=min_rps * 60 / 2), "30m",
                           "LoadlineApiThroughputBelowTarget", _expect(rule)))
    tests.append(_case(_traffic(0, 40, total_per_min=max(min_rps, 1) * 60 * 2), "30m",
                       "LoadlineApiThroughputBelowTarget", []))
    return tests


def _cache(lookups_per_min: float, hit_ratio: float, minutes: int) -> list[dict[str, str]]:
    """L1 and L2 lookups: 3/4 of the hits from L1, the rest from L2 on an L1 miss."""
    hits = lookups_per_min * hit_ratio
    l1_hits = hits * 3 / 4
    sel = f'job="{API_JOB}",tier='
    return [
        {"series": f'cache_requests_total{{{sel}"l1",result="hit"}}', "values": _counter(l1_hits, minutes)},
        {"series": f'cache_requests_total{{{sel}"l1",result="miss"}}', "values": _counter(lookups_per_min - l1_hits, minutes)},
        {"series": f'cache_requests_total{{{sel}"l2",result="hit"}}', "values": _counter(hits - l1_hits, minutes)},
        {"series": f'cache_requests_total{{{sel}"l2",result="miss"}}', "values": _counter(lookups_per_min - hits, minutes)},
    ]


def _cache_hit_tests(profile: Profile, rules: dict[str, Any]) -> list[dict[str, Any]]:
    target = profile.slo.cache_hit_ratio
    if target is None:
        return []
    alert = "LoadlineCacheHitRatioLow"
    rule = _rule(rules, alert)
    busy = CACHE_MIN_LOOKUPS_PER_S * 60 * 10
    return [
        # Half the target with traffic: fires. Halfway between the target and 1: silent.
        _case(_cache(busy, target / 2, 70), "65m", alert, _expect(rule)),
        _case(_cache(busy, (1 + target) / 2, 70), "65m", alert, []),
        # No hit at all, but below the minimum traffic: silent.
        _case(_cache(CACHE_MIN_LOOKUPS_PER_S * 60 / 2, 0, 70), "65m", alert, []),
    ]


def _dependency_tests(profile: Profile, rules: dict[str, Any]) -> list[dict[str, Any]]:
    dependencies = [("LoadlineRedisDown", "redis_up", REDIS_JOB, "redis-0:9121")]
    if profile.postgres.mode == "inCluster":
        dependencies.append(("LoadlinePostgresDown", "pg_up", POSTGRES_JOB, "postgres-0:9187"))
    tests = []
    for alert, metric, job, instance in dependencies:
        rule = _rule(rules, alert)
        labels = f'job="{job}",instance="{instance}"'
        up = [{"series": f"up{{{labels}}}", "values": "1x20"}]
        tests.append(_case([{"series": f"{metric}{{{labels}}}", "values": "1x5 0x15"}] + up, "10m",
                           alert, _expect(rule, job=job, instance=instance)))
        tests.append(_case([{"series": f"{metric}{{{labels}}}", "values": "1x20"}] + up, "10m", alert, []))
    return tests


def _hpa_tests(profile: Profile, rules: dict[str, Any]) -> list[dict[str, Any]]:
    rule = _rule(rules, "LoadlineApiHpaAtMax")
    hpa = f'horizontalpodautoscaler="{HPA_NAME}",namespace="{profile.namespace}"'
    top = profile.api.hpa.max_replicas
    return [_case([
        {"series": f"kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}}", "values": f"{current}x30"},
        {"series": f"kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}}", "values": f"{top}x30"},
    ], "20m", "LoadlineApiHpaAtMax", expected)
        for current, expected in ((top, _expect(rule, horizontalpodautoscaler=HPA_NAME, namespace=profile.namespace)),
                                  (top - 1, []))]
