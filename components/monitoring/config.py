"""Prometheus configuration and alert rules derived from a profile.

Pure functions: the Monitoring component renders them into a ConfigMap (or a
PrometheusRule in operator mode), and `loadline local` runs a real Prometheus on
loopback with exactly the same output, so what is tested locally is what deploys.

Every alert carries an `slo` label naming the profile target it guards
(`p95_ms`, `p99_ms`, `max_error_ratio`, `availability`, `min_rps`, `cache_hit_ratio`) or
`dependency` for the component-down alerts, so a checker can map targets to rules.
"""

from __future__ import annotations

from typing import Any

# API_JOB is re-exported: the operator, the dashboard and the rule tests import it from here.
from components.monitoring.slo_burn import API_JOB as API_JOB
from components.monitoring.slo_burn import burn_rate_group
from loadline.profile import Profile

REDIS_JOB = "redis"
POSTGRES_JOB = "postgres"
KSM_JOB = "kube-state-metrics"
HPA_NAME = "loadline-api"

_REQ = f'http_request_duration_seconds_count{{job="{API_JOB}"}}'
_BUCKET = f'http_request_duration_seconds_bucket{{job="{API_JOB}"}}'
_ERR = f'http_request_duration_seconds_count{{job="{API_JOB}",status=~"5.."}}'
_CACHE_HITS = f'cache_requests_total{{job="{API_JOB}",result="hit"}}'
# Every request looks in L1 first (L2 only on an L1 miss): the L1 lookups count the requests.
_CACHE_LOOKUPS = f'cache_requests_total{{job="{API_JOB}",tier="l1"}}'
# Below this many lookups per second the ratio says more about which pages a few clients
# happened to ask for than about the cache.
CACHE_MIN_LOOKUPS_PER_S = 1

def _num(value: float) -> str:
    """A threshold as PromQL text without float noise (0.1 not 0.1000000000000000055)."""
    text = f"{value:.10g}"
    return text


def _quantile(q: float, window: str = "5m") -> str:
    return f"histogram_quantile({q}, sum by (le) (rate({_BUCKET}[{window}])))"


def _error_ratio(window: str) -> str:
    return f"(sum(rate({_ERR}[{window}])) or vector(0)) / sum(rate({_REQ}[{window}]))"


def alert_rules(profile: Profile) -> dict[str, Any]:
    """A Prometheus rule file `{"groups": [...]}` whose thresholds come from `profile.slo`."""
    return {"groups": [
        {"name": "loadline-slo", "rules": [*_latency_rules(profile), _error_ratio_rule(profile),
                                           _throughput_rule(profile), *_cache_hit_rules(profile)]},
        {"name": "loadline-dependencies", "rules": _dependency_rules(profile)},
        burn_rate_group(profile),
    ]}


def _latency_rules(profile: Profile) -> list[dict[str, Any]]:
    slo = profile.slo
    env = profile.environment
    targets = [("P95", 0.95, slo.p95_ms, "page", "p95_ms")]
    if slo.p99_ms is not None:
        targets.append(("P99", 0.99, slo.p99_ms, "ticket", "p99_ms"))
    return [{
        "alert": f"LoadlineApiLatency{tag}High",
        "expr": f"{_quantile(q)} > {_num(ms / 1000)}",
        "for": "5m",
        "labels": {"environment": env, "severity": severity, "slo": target},
        "annotations": {
            "summary": f"API {tag.lower()} latency above {_num(ms)} ms",
            "description": f"{tag.lower()} of http_request_duration_seconds over 5m exceeds the {env} SLO of {_num(ms)} ms.",
        },
    } for tag, q, ms, severity, target in targets]


def _error_ratio_rule(profile: Profile) -> dict[str, Any]:
    slo = profile.slo
    env = profile.environment
    return {
        "alert": "LoadlineApiErrorRatioHigh",
        "expr": f"{_error_ratio('5m')} > {_num(slo.max_error_ratio)}",
        "for": "5m",
        "labels": {"environment": env, "severity": "page", "slo": "max_error_ratio"},
        "annotations": {
            "summary": f"API 5xx ratio above {_num(slo.max_error_ratio)}",
            "description": f"Share of 5xx responses over 5m exceeds the {env} maximum error ratio of {_num(slo.max_error_ratio)}.",
        },
    }


def _throughput_rule(profile: Profile) -> dict[str, Any]:
    slo = profile.slo
    # Low traffic is not an outage, so this only tickets: it says the promised
    # throughput is not being served, e.g. after a bad rollout drained the pods.
    return {
        "alert": "LoadlineApiThroughputBelowTarget",
        "expr": f"(sum(rate({_REQ}[5m])) or vector(0)) < {_num(slo.min_rps)}",
        "for": "15m",
        "labels": {"environment": profile.environment, "severity": "ticket", "slo": "min_rps"},
        "annotations": {
            "summary": f"API throughput below {_num(slo.min_rps)} requests/s",
            "description": f"Served request rate over 5m is below the {profile.environment} target of {_num(slo.min_rps)} rps.",
        },
    }


def _cache_hit_rules(profile: Profile) -> list[dict[str, Any]]:
    target = profile.slo.cache_hit_ratio
    if target is None:
        return []
    window = "30m"
    lookups = f"sum(rate({_CACHE_LOOKUPS}[{window}]))"
    # A cold or shrinking cache is a cost (more PostgreSQL load, slower reads), not yet an
    # outage: a ticket, over a window long enough that a deploy's cold start does not trip it.
    return [{
        "alert": "LoadlineCacheHitRatioLow",
        "expr": (f"(sum(rate({_CACHE_HITS}[{window}])) / {lookups} < {_num(target)})"
                 f" and on() ({lookups} >= {_num(CACHE_MIN_LOOKUPS_PER_S)})"),
        "for": window,
        "labels": {"environment": profile.environment, "severity": "ticket", "slo": "cache_hit_ratio"},
        "annotations": {
            "summary": f"cache hit ratio below {_num(target)}",
            "description": (f"Cache hits (L1 and L2) over L1 lookups for {window} are below the "
                            f"{profile.environment} target of {_num(target)}."),
        },
    }]


def _down_rule(alert: str, metric: str, job: str, dependency: str, summary: str, exporter: str,
               environment: str) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": f'{metric}{{job="{job}"}} == 0 or up{{job="{job}"}} == 0',
        "for": "2m",
        "labels": {"environment": environment, "severity": "page", "dependency": dependency},
        "annotations": {
            "summary": summary,
            "description": f"{exporter} reports {metric} 0, or the exporter itself is not scraped.",
        },
    }


def _dependency_rules(profile: Profile) -> list[dict[str, Any]]:
    env = profile.environment
    rules = [_down_rule("LoadlineRedisDown", "redis_up", REDIS_JOB, "redis", "Redis node down",
                        "redis_exporter", env)]
    if profile.postgres.mode == "inCluster":
        rules.append(_down_rule("LoadlinePostgresDown", "pg_up", POSTGRES_JOB, "postgres", "PostgreSQL down",
                                "postgres_exporter", env))
    hpa = f'horizontalpodautoscaler="{HPA_NAME}",namespace="{profile.namespace}"'
    rules.append({
        "alert": "LoadlineApiHpaAtMax",
        "expr": (f"kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}}"
                 f" >= kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}}"),
        "for": "15m",
        "labels": {"environment": env, "severity": "ticket", "dependency": "capacity"},
        "annotations": {
            "summary": f"API autoscaler at its maximum of {profile.api.hpa.max_replicas} replicas",
            "description": "The HPA cannot add replicas; raise api.hpa.maxReplicas or the cluster's capacity.",
        },
    })
    return rules


def _static_job(job: str, targets: list[str], interval: str) -> dict[str, Any]:
    return {"job_name": job, "scrape_interval": interval,
            "static_configs": [{"targets": list(targets)}]}


def prometheus_config(profile: Profile, *, api_targets: list[str], redis_targets: list[str],
                      postgres_targets: list[str], rule_files: list[str],
                      api_dns_name: str | None = None, api_port: int = 8000,
                      extra_targets: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The content of prometheus.yml.

    `api_targets` are static host:port targets (loopback for `loadline local`). In a
    cluster the API scales under an HPA, so pass `api_dns_name` (the API's headless
    Service) instead: the job then discovers every ready pod through DNS. `extra_targets`
    adds static jobs (kube-state-metrics, Grafana) by job name.
    """
    interval = profile.monitoring.scrape_interval
    jobs: list[dict[str, Any]] = [_static_job("prometheus", ["localhost:9090"], interval)]
    if api_dns_name:
        # A headless Service's DNS name resolves to every ready API pod, so each replica
        # the HPA adds is scraped on its own; no Kubernetes API access is needed.
        jobs.append({
            "job_name": API_JOB,
            "scrape_interval": interval,
            "dns_sd_configs": [{"names": [api_dns_name], "type": "A", "port": api_port,
                                "refresh_interval": "30s"}],
        })
    else:
        jobs.append(_static_job(API_JOB, api_targets, interval))
    if redis_targets:
        jobs.append(_static_job(REDIS_JOB, redis_targets, interval))
    if postgres_targets:
        jobs.append(_static_job(POSTGRES_JOB, postgres_targets, interval))
    for job, targets in (extra_targets or {}).items():
        entry = _static_job(job, targets, interval)
        if job == KSM_JOB:
            # kube-state-metrics reports about other objects: keep its namespace labels.
            entry["honor_labels"] = True
        jobs.append(entry)
    return {
        "global": {
            "scrape_interval": interval,
            "evaluation_interval": interval,
            "external_labels": {"environment": profile.environment, "namespace": profile.namespace},
        },
        "rule_files": list(rule_files),
        "scrape_configs": jobs,
    }
