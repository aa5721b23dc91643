"""The server-side judgement on synthetic evidence, and what the verdict says without Prometheus."""

from loadline.gate.evidence import Evidence, RouteEvidence, ServerTargets, Window, gather, judge
from loadline.services import free_port

TARGETS = ServerTargets(p95_ms=50, p99_ms=150, max_error_ratio=0.01, cache_hit_ratio=0.8)


def evidence(**overrides) -> Evidence:
    base = dict(window=Window(0, 30), requests=30000, p95_ms=20.0, p99_ms=40.0, error_5xx_ratio=0.0,
                cache_hit_ratio=0.9, cache_lookups=20000, pool_saturation_max=0.5, pool_saturation_mean=0.2,
                routes={"GET /v1/events/search": RouteEvidence(requests=20000, http_5xx=0, p95_ms=20, p99_ms=40)},
                alerts_fired=[])
    return Evidence(**{**base, **overrides})


def test_targets_met_give_no_failure():
    assert judge(evidence(), TARGETS) == []


def test_equal_meets_the_target():
    assert judge(evidence(p95_ms=50.0, p99_ms=150.0, cache_hit_ratio=0.8, error_5xx_ratio=0.01), TARGETS) == []


def test_each_missed_server_target_is_named():
    slow_route = {"GET /v1/events/{event_id}": RouteEvidence(requests=10, http_5xx=0, p95_ms=80, p99_ms=90)}
    failures = judge(evidence(p95_ms=51.0, p99_ms=151.0, error_5xx_ratio=0.02, cache_hit_ratio=0.5,
                              routes=slow_route,
                              alerts_fired=[{"alertname": "LoadlineRedisDown", "severity": "page"},
                                            {"alertname": "LoadlineApiThroughputBelowTarget", "severity": "ticket"}]),
                     TARGETS)
    assert failures == [
        "server overall: p95 51 ms exceeds target 50 ms",
        "server overall: p99 151 ms exceeds target 150 ms",
        "server GET /v1/events/{event_id}: p95 80 ms exceeds target 50 ms",
        "server overall: 5xx ratio 0.0200 exceeds target 0.01",
        "server overall: cache hit ratio 0.500 is below target 0.8",
        "server: alert LoadlineRedisDown (severity page) fired during the run",
    ]


def test_no_cache_lookup_leaves_the_cache_target_unproven():
    assert judge(evidence(cache_hit_ratio=None, cache_lookups=0), TARGETS) == [
        "server overall: no cache lookup recorded; the cache hit ratio target 0.8 is unproven"]
    assert judge(evidence(cache_hit_ratio=None), ServerTargets(50, None, 0.01, None)) == []


def test_a_window_without_requests_fails():
    assert "recorded no request" in judge(evidence(requests=0), TARGETS)[0]


def test_no_prometheus_url_is_a_stated_failure():
    result = gather(None, "loadline-api", Window(0, 1), 5, TARGETS)
    assert not result.available and "no Prometheus URL" in result.reason
    assert result.failures and result.failures[0].startswith("server: no evidence")


def test_unreachable_prometheus_is_a_stated_failure():
    url = f"http://127.0.0.1:{free_port()}"
    result = gather(url, "loadline-api", Window(0, 1), 1, TARGETS)
    assert not result.available and result.prometheus_url == url
    assert "unreachable" in result.reason and "unproven" in result.failures[0]


def test_a_window_without_requests_says_so_and_one_request_is_enough():
    assert judge(evidence(requests=0), TARGETS) == [
        "server: Prometheus recorded no request in the run's window (is it scraping the API?)"]
    assert judge(evidence(requests=1), TARGETS) == []


def test_without_prometheus_the_verdict_says_how_to_give_it_or_opt_out():
    result = gather(None, "loadline-api", Window(0, 1), 5, TARGETS)
    assert result.reason == ("no Prometheus URL: pass --prometheus URL (the local environment's is found on its own)")
    assert result.failures == [f"server: no evidence ({result.reason}); the server-side targets are unproven "
                               "(--no-server-evidence judges the client side only)"]
    from loadline.gate.evidence import unavailable

    opted_out = unavailable("not asked (--no-server-evidence)", url=None, judged=False)
    assert not opted_out.available and opted_out.failures == [] and opted_out.reason.startswith("not asked")


def test_the_cache_hit_ratio_counts_each_tiers_hits_over_the_l1_lookups():
    from loadline.gate.evidence import cache_hits_and_lookups
    # 100 requests: 70 L1 hits; of the 30 L1 misses, 20 hit Redis and 10 went to PostgreSQL.
    assert cache_hits_and_lookups({"l1 hit": 70, "l1 miss": 30, "l2 hit": 20, "l2 miss": 10}) == (90, 100)
    assert cache_hits_and_lookups({" hit": 8, " miss": 2}) == (8, 10)  # no tier label
    assert cache_hits_and_lookups({}) == (0, 0)
