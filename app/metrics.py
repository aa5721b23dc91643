"""The service's Prometheus metrics; names and labels are a contract with the alert rules.

With several workers, prometheus_client's multiprocess mode aggregates their
files in PROMETHEUS_MULTIPROC_DIR (which must be set before this module is
imported; `python -m app serve` does that).
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from app import __version__

# Cached search answers in ~1 ms, a cold database query in a few: buckets resolve both.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUEST_DURATION = Histogram(
    "http_request_duration_seconds", "HTTP request duration by route template",
    ["route", "method", "status"], buckets=BUCKETS)
# A request looks in L1 first and in L2 (Redis) only on an L1 miss: the overall hit ratio is
# all hits over the L1 lookups.
CACHE_REQUESTS = Counter("cache_requests_total", "Cache lookups by tier (l1 in-process, l2 Redis) and result",
                         ["tier", "result"])
DEGRADED_REQUESTS = Counter(
    "degraded_requests_total", "Requests served without a failed dependency", ["dependency"])
RATE_LIMITED = Counter("rate_limited_requests_total", "Requests refused with 429")
RATE_LIMIT_FAIL_OPEN = Counter(
    "rate_limit_fail_open_total", "Requests let through unchecked because Redis was unavailable")
# livemax: each worker has its own breaker; the worst living one is what a dashboard must show.
REDIS_BREAKER_STATE = Gauge("redis_breaker_state", "Redis circuit breaker: 0 closed, 1 half-open, 2 open",
                            multiprocess_mode="livemax")
REDIS_BREAKER_TRIPS = Counter("redis_breaker_trips_total", "Times the Redis circuit breaker opened")
POOL_IN_USE = Gauge("db_pool_connections_in_use", "Database connections checked out",
                    multiprocess_mode="livesum")
POOL_MAX = Gauge("db_pool_connections_max", "Database pool size limit", multiprocess_mode="livesum")
BUILD_INFO = Gauge("app_build_info", "Build information (value 1)", ["version"],
                   multiprocess_mode="max")

BUILD_INFO.labels(version=__version__).set(1)
# Bound once: labels() costs a lock and a dict lookup on every cached answer.
L1_HIT = CACHE_REQUESTS.labels(tier="l1", result="hit")
L1_MISS = CACHE_REQUESTS.labels(tier="l1", result="miss")
CACHE_HIT = CACHE_REQUESTS.labels(tier="l2", result="hit")
CACHE_MISS = CACHE_REQUESTS.labels(tier="l2", result="miss")
DEGRADED_REQUESTS.labels(dependency="redis")
DEGRADED_REQUESTS.labels(dependency="postgres")


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def forget_dead_workers() -> None:
    """Drop the live gauges of worker processes that are gone (a crashed worker the server
    replaced), so the pool gauges sum the living workers only. Run by each worker at start."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:
            pass
