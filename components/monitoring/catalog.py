"""The series a rule or a dashboard may read, by who produces them.

Recording rules add their own names (see `produced`). A query that names anything
else reads a series nobody writes: the panel stays empty or the alert can never fire,
and nothing else would say so. Tests check the service's list against a real scrape of
the app, and the exporters' against the local environment's real exporters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SERVICE = frozenset({
    # app/metrics.py, as exposed on /metrics (a histogram's series, a counter's _total).
    "http_request_duration_seconds_bucket",
    "http_request_duration_seconds_count",
    "http_request_duration_seconds_sum",
    "cache_requests_total",
    "degraded_requests_total",
    "rate_limited_requests_total",
    "rate_limit_fail_open_total",
    "redis_breaker_state",
    "redis_breaker_trips_total",
    "db_pool_connections_in_use",
    "db_pool_connections_max",
    "app_build_info",
})
EXPORTERS = {
    "redis": frozenset({"redis_up"}),
    "postgres": frozenset({"pg_up"}),
    "kube-state-metrics": frozenset({
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_status_desired_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
    }),
}
PROMETHEUS = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
"""Written by Prometheus itself for every target and alert."""


def recorded(rules: dict[str, Any]) -> set[str]:
    """Names the recording rules of a rule file `{"groups": [...]}` write."""
    return {r["record"] for g in rules.get("groups", []) for r in g.get("rules", []) if r.get("record")}


def produced(rules: dict[str, Any] | None = None) -> set[str]:
    """Every metric name a query may read: service, exporters, Prometheus, and `rules`' recordings."""
    names = set(SERVICE) | set(PROMETHEUS)
    for exporter in EXPORTERS.values():
        names |= exporter
    return names | recorded(rules or {})


def unknown(names: Iterable[str], rules: dict[str, Any] | None = None) -> list[str]:
    known = produced(rules)
    return sorted(set(names) - known)
