"""The Grafana dashboard for one environment, as a dict (pure; no Pulumi)."""

from __future__ import annotations

from typing import Any

from components.monitoring.config import API_JOB, HPA_NAME, POSTGRES_JOB, REDIS_JOB
from loadline.profile import Profile

DATASOURCE_UID = "loadline-prometheus"
_REQ = f'http_request_duration_seconds_count{{job="{API_JOB}"}}'
_BUCKET = f'http_request_duration_seconds_bucket{{job="{API_JOB}"}}'


def _panel(pid: int, title: str, targets: list[tuple[str, str]], *, unit: str, x: int, y: int,
           thresholds: list[tuple[float, str]] | None = None) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    steps += [{"color": color, "value": value} for value, color in (thresholds or [])]
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": DATASOURCE_UID},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps},
                                     "custom": {"thresholdsStyle": {"mode": "line" if thresholds else "off"}}},
                        "overrides": []},
        "targets": [{"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend,
                     "datasource": {"type": "prometheus", "uid": DATASOURCE_UID}}
                    for i, (expr, legend) in enumerate(targets)],
    }


def dashboard(profile: Profile) -> dict[str, Any]:
    slo = profile.slo
    ns = profile.namespace
    hpa = f'horizontalpodautoscaler="{HPA_NAME}",namespace="{ns}"'
    panels = [
        _panel(1, "Request rate by route", [
            (f"sum by (route) (rate({_REQ}[1m]))", "{{route}}"),
            (f"sum(rate({_REQ}[1m]))", "total"),
        ], unit="reqps", x=0, y=0, thresholds=[(slo.min_rps, "blue")]),
        _panel(2, "Latency p50 / p95 / p99", [
            (f"histogram_quantile({q}, sum by (le) (rate({_BUCKET}[5m])))", f"p{int(q * 100)}")
            for q in (0.5, 0.95, 0.99)
        ], unit="s", x=12, y=0, thresholds=[(slo.p95_ms / 1000, "red")]),
        _panel(3, "5xx error ratio", [
            (f'sum(rate(http_request_duration_seconds_count{{job="{API_JOB}",status=~"5.."}}[5m])) '
             f"/ sum(rate({_REQ}[5m]))", "5xx ratio"),
        ], unit="percentunit", x=0, y=8, thresholds=[(slo.max_error_ratio, "red")]),
        _panel(4, "Cache hit ratio", [
            ('sum(rate(cache_requests_total{result="hit"}[5m])) / sum(rate(cache_requests_total[5m]))', "hit ratio"),
        ], unit="percentunit", x=12, y=8),
        _panel(5, "Database pool use", [
            ("sum(db_pool_connections_in_use) / sum(db_pool_connections_max)", "in use / max"),
            ("sum(db_pool_connections_in_use)", "in use"),
        ], unit="percentunit", x=0, y=16, thresholds=[(0.9, "red")]),
        _panel(6, "API replicas", [
            (f"kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}}", "current"),
            (f"kube_horizontalpodautoscaler_status_desired_replicas{{{hpa}}}", "desired"),
            (f"kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}}", "max"),
        ], unit="short", x=12, y=16),
        _panel(7, "Degraded and rate-limited requests", [
            ("sum by (dependency) (rate(degraded_requests_total[5m]))", "degraded: {{dependency}}"),
            ("sum(rate(rate_limited_requests_total[5m]))", "rate limited"),
        ], unit="reqps", x=0, y=24),
        _panel(8, "Dependencies up", [
            (f'min(redis_up{{job="{REDIS_JOB}"}})', "redis"),
            (f'min(pg_up{{job="{POSTGRES_JOB}"}})', "postgres"),
        ], unit="short", x=12, y=24),
    ]
    return {
        "uid": f"loadline-{profile.environment}",
        "title": f"loadline {profile.environment} ({ns})",
        "tags": ["loadline", profile.environment],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "panels": panels,
    }
