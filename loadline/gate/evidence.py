"""The server's own evidence for a run: its Prometheus, queried over the HTTP API.

The client (Locust) sees latency through the network and its own scheduling; the
service's histogram `http_request_duration_seconds` sees only the time the service
took. After the load, the gate waits until Prometheus has scraped past the end of the
run, then asks for the run's window: server-side p95/p99 (overall and per route), the
5xx ratio, the cache hit ratio, the PostgreSQL pool saturation and the alerts that
fired. `judge` turns them into failures against the same targets the client side meets.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import requests

from loadline.gate.verdict import ServerAlert, ServerResult, ServerRoute

# The routes the load exercises; probes and /metrics are not what users wait for.
ROUTES = '/v1/.+'
# How long to wait, beyond two scrape intervals, for the scrape that covers the run's end.
SCRAPE_GRACE_S = 10.0


class EvidenceError(Exception):
    """Prometheus could not be asked or did not answer; the message says why."""


@dataclass(frozen=True)
class Window:
    """The run's window, epoch seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> int:
        return max(1, math.ceil(self.end - self.start))


class Prometheus:
    """The few calls of Prometheus's HTTP API the gate needs."""

    def __init__(self, url: str, timeout_s: float = 10.0, session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        # A session carries credentials when Prometheus is reached through the Kubernetes
        # API server's Service proxy (loadline/envs/runner.py).
        self.session = session or requests.Session()

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        """An instant query; each result is {"metric": {...}, "value": [t, "v"]}."""
        try:
            resp = self.session.get(f"{self.url}/api/v1/query", params={"query": expr, "time": f"{at:.3f}"},
                                timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise EvidenceError(f"Prometheus at {self.url} is unreachable ({type(exc).__name__}: {exc})") from None
        try:
            body = resp.json()
        except ValueError:
            raise EvidenceError(f"Prometheus at {self.url} answered {resp.status_code} with no JSON") from None
        if resp.status_code != 200 or body.get("status") != "success":
            raise EvidenceError(f"Prometheus at {self.url} refused `{expr}`: {body.get('error', resp.status_code)}")
        result = body["data"]["result"]
        return result if isinstance(result, list) else []

    def scalar(self, expr: str, at: float) -> float | None:
        """The single value of `expr`, None when there is no series (or it is NaN)."""
        result = self.query(expr, at)
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if math.isnan(value) or math.isinf(value) else value

    def wait_for_scrape(self, job: str, after: float, scrape_interval_s: float) -> float:
        """Wait until a scrape of `job` later than `after` is stored; returns its time."""
        deadline = time.time() + 2 * scrape_interval_s + SCRAPE_GRACE_S
        while True:
            latest = self.scalar(f'max(timestamp(up{{job="{job}"}}))', time.time())
            if latest is not None and latest >= after:
                return latest
            if time.time() > deadline:
                seen = "never" if latest is None else f"last at {latest:.0f}"
                raise EvidenceError(f"Prometheus at {self.url} has no scrape of job {job} after the "
                                    f"run ended ({seen}, run ended at {after:.0f})")
            time.sleep(min(1.0, scrape_interval_s / 2))


@dataclass(frozen=True)
class RouteEvidence:
    requests: float
    http_5xx: float
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class Evidence:
    """What the server recorded over the run's window."""

    window: Window
    requests: float
    p95_ms: float | None
    p99_ms: float | None
    error_5xx_ratio: float | None
    cache_hit_ratio: float | None
    cache_lookups: float
    pool_saturation_max: float | None
    pool_saturation_mean: float | None
    routes: dict[str, RouteEvidence]
    alerts_fired: list[dict[str, str]]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _by(result: list[dict[str, Any]], *labels: str) -> dict[str, float]:
    out = {}
    for r in result:
        value = float(r["value"][1])
        if not math.isnan(value):
            out[" ".join(r["metric"].get(k, "") for k in labels)] = value
    return out


def cache_hits_and_lookups(by_tier_result: dict[str, float]) -> tuple[float, float]:
    """(hits, lookups) from counts keyed "<tier> <result>". A request looks in L1, then in L2
    (Redis) only on an L1 miss: every tier's hits count, over the L1 lookups. A service without
    the tier label (tier "") has one lookup per request."""
    first = "l1" if any(key.startswith("l1 ") for key in by_tier_result) else ""
    hits = sum(v for key, v in by_tier_result.items() if key.endswith(" hit"))
    return hits, by_tier_result.get(f"{first} hit", 0.0) + by_tier_result.get(f"{first} miss", 0.0)


def collect(prom: Prometheus, job: str, window: Window, scrape_interval_s: float) -> Evidence:
    """Wait for the scrape after the run, then query the window. Raises EvidenceError."""
    at = prom.wait_for_scrape(job, window.end, scrape_interval_s)
    # A window that ended a while ago (a fault run's steady part before its fault) is read as
    # of its first scrape, not as of the latest one, which would take in what came after it.
    at = min(at, window.end + scrape_interval_s)
    # From the run's start to the first scrape after its end: increase() then holds the run.
    rng = f"{max(1, math.ceil(at - window.start))}s"
    sel = f'job="{job}",route=~"{ROUTES}"'
    buckets = f"increase(http_request_duration_seconds_bucket{{{sel}}}[{rng}])"
    count = f"increase(http_request_duration_seconds_count{{{sel}}}[{rng}])"
    count_5xx = f'increase(http_request_duration_seconds_count{{{sel},status=~"5.."}}[{rng}])'

    def quantile(q: float, by: str = "") -> str:
        return f"histogram_quantile({q}, sum by (le{by}) ({buckets}))"

    total = prom.scalar(f"sum({count})", at) or 0.0
    errors = prom.scalar(f"sum({count_5xx})", at) or 0.0
    per_route_n = _by(prom.query(f"sum by (method, route) ({count})", at), "method", "route")
    per_route_5xx = _by(prom.query(f"sum by (method, route) ({count_5xx})", at), "method", "route")
    p95 = _by(prom.query(quantile(0.95, ", method, route"), at), "method", "route")
    p99 = _by(prom.query(quantile(0.99, ", method, route"), at), "method", "route")
    cache = _by(prom.query(f'sum by (tier, result) (increase(cache_requests_total{{job="{job}"}}[{rng}]))', at),
                "tier", "result")
    hits, lookups = cache_hits_and_lookups(cache)
    step = f"{max(1, int(scrape_interval_s))}s"
    saturation = (f'(sum(db_pool_connections_in_use{{job="{job}"}}) '
                  f'/ sum(db_pool_connections_max{{job="{job}"}}))[{rng}:{step}]')
    alerts = prom.query(f'max by (alertname, severity) (max_over_time(ALERTS{{alertstate="firing"}}[{rng}]))', at)
    routes = {name: RouteEvidence(requests=round(n, 1), http_5xx=round(per_route_5xx.get(name, 0.0), 1),
                                  p95_ms=_ms(p95.get(name)), p99_ms=_ms(p99.get(name)))
              for name, n in sorted(per_route_n.items()) if n > 0}
    return Evidence(
        window=Window(window.start, at), requests=round(total, 1),
        p95_ms=_ms(prom.scalar(quantile(0.95), at)), p99_ms=_ms(prom.scalar(quantile(0.99), at)),
        error_5xx_ratio=round(errors / total, 6) if total else None,
        cache_hit_ratio=round(hits / lookups, 4) if lookups else None,
        cache_lookups=round(lookups, 1),
        pool_saturation_max=prom.scalar(f"max_over_time({saturation})", at),
        pool_saturation_mean=prom.scalar(f"avg_over_time({saturation})", at),
        routes=routes,
        alerts_fired=sorted(({"alertname": a["metric"].get("alertname", ""),
                              "severity": a["metric"].get("severity", "")} for a in alerts),
                            key=lambda a: a["alertname"]))


@dataclass(frozen=True)
class ServerTargets:
    p95_ms: float
    p99_ms: float | None
    max_error_ratio: float
    cache_hit_ratio: float | None


# An alert of this severity firing during a gate run means the stack failed its promise.
PAGING = "page"


def judge(evidence: Evidence, targets: ServerTargets) -> list[str]:
    """One sentence per server-side target the window missed (equal meets it)."""
    out = []
    if evidence.requests <= 0:
        return ["server: Prometheus recorded no request in the run's window (is it scraping the API?)"]

    def latency(where: str, p95: float | None, p99: float | None) -> None:
        if p95 is not None and p95 > targets.p95_ms:
            out.append(f"server {where}: p95 {p95:g} ms exceeds target {targets.p95_ms:g} ms")
        if targets.p99_ms is not None and p99 is not None and p99 > targets.p99_ms:
            out.append(f"server {where}: p99 {p99:g} ms exceeds target {targets.p99_ms:g} ms")

    latency("overall", evidence.p95_ms, evidence.p99_ms)
    for name, route in evidence.routes.items():
        latency(name, route.p95_ms, route.p99_ms)
    ratio = evidence.error_5xx_ratio
    if ratio is not None and ratio > targets.max_error_ratio:
        out.append(f"server overall: 5xx ratio {ratio:.4f} exceeds target {targets.max_error_ratio:g}")
    if targets.cache_hit_ratio is not None:
        hit = evidence.cache_hit_ratio
        if hit is None:
            out.append("server overall: no cache lookup recorded; the cache hit ratio target "
                       f"{targets.cache_hit_ratio:g} is unproven")
        elif hit < targets.cache_hit_ratio:
            out.append(f"server overall: cache hit ratio {hit:.3f} is below target {targets.cache_hit_ratio:g}")
    for alert in evidence.alerts_fired:
        if alert["severity"] == PAGING:
            out.append(f"server: alert {alert['alertname']} (severity {PAGING}) fired during the run")
    return out


def unavailable(reason: str, *, url: str | None, judged: bool = True) -> ServerResult:
    """No evidence: the verdict says why, and (unless the user opted out) fails on it."""
    failures = [f"server: no evidence ({reason}); the server-side targets are unproven "
                "(--no-server-evidence judges the client side only)"] if judged else []
    return ServerResult(available=False, reason=reason, prometheus_url=url, failures=failures)


def gather(url: str | None, job: str, window: Window, scrape_interval_s: float,
           targets: ServerTargets, session: requests.Session | None = None) -> ServerResult:
    """The evidence of the window, judged; never raises (an unreachable Prometheus fails the run)."""
    if not url:
        return unavailable("no Prometheus URL: pass --prometheus URL (the local environment's is found "
                           "on its own)", url=None)
    prom = Prometheus(url, session=session)
    try:
        ev = collect(prom, job, window, scrape_interval_s)
    except EvidenceError as exc:
        return unavailable(str(exc), url=url)
    return ServerResult(
        available=True, prometheus_url=url, window_start=round(ev.window.start, 3),
        window_end=round(ev.window.end, 3), requests=ev.requests, p95_ms=ev.p95_ms, p99_ms=ev.p99_ms,
        error_5xx_ratio=ev.error_5xx_ratio, cache_hit_ratio=ev.cache_hit_ratio,
        cache_hit_ratio_target=targets.cache_hit_ratio,
        cache_lookups=ev.cache_lookups,
        pool_saturation_max=None if ev.pool_saturation_max is None else round(ev.pool_saturation_max, 4),
        pool_saturation_mean=None if ev.pool_saturation_mean is None else round(ev.pool_saturation_mean, 4),
        per_route={name: ServerRoute(requests=r.requests, http_5xx=r.http_5xx, p95_ms=r.p95_ms, p99_ms=r.p99_ms)
                   for name, r in ev.routes.items()},
        alerts_fired=[ServerAlert(**a) for a in ev.alerts_fired],
        failures=judge(ev, targets))
