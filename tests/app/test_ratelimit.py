"""Token bucket in Redis: the burst passes, the next request is 429 with Retry-After."""

from __future__ import annotations

from tests.app.conftest import API_KEY, make_settings, metric, running
from tests.app.test_events import assert_error


def test_burst_then_429_with_retry_after(app_factory):
    with app_factory(rate_limit_per_second=0.5, rate_limit_burst=3) as client:
        limited = metric(client, "rate_limited_requests_total")
        url = "/v1/events/00000000-0000-0000-0000-000000000001"
        assert [client.get(url).status_code for _ in range(3)] == [404, 404, 404]
        resp = client.get(url)
        assert_error(resp, 429, "rate_limited", "rate limit")
        assert resp.headers["retry-after"] == "2"  # one token at 0.5/s
        assert metric(client, "rate_limited_requests_total") == limited + 1


def test_each_api_key_has_its_own_bucket(app_factory):
    with app_factory(rate_limit_per_second=0.5, rate_limit_burst=2) as client:
        url = "/v1/events/00000000-0000-0000-0000-000000000002"
        for _ in range(2):
            client.get(url)
        assert client.get(url).status_code == 429
        # The same address with a valid key draws from the key's bucket, not the address's.
        assert client.get(url, headers={"X-API-Key": API_KEY}).status_code == 404


def test_probes_and_metrics_are_not_limited(app_factory):
    with app_factory(rate_limit_per_second=0.5, rate_limit_burst=1) as client:
        url = "/v1/events/00000000-0000-0000-0000-000000000003"
        client.get(url)
        assert client.get(url).status_code == 429  # this client's bucket is empty from here on
        for path in ("/healthz", "/readyz", "/metrics"):
            assert [client.get(path).status_code for _ in range(3)] == [200] * 3, path


def test_429_in_cluster_mode(database_url, redis_cluster):
    for master in redis_cluster.masters():
        with master.client() as c:
            c.flushall()  # a bucket left by an earlier test would start this one empty
    settings = make_settings(database_url, redis_cluster.url.split(","), redis_mode="cluster",
                             rate_limit_per_second=0.5, rate_limit_burst=2)
    with running(settings) as client:
        degraded = metric(client, "degraded_requests_total", dependency="redis")
        url = "/v1/events/00000000-0000-0000-0000-000000000004"
        assert [client.get(url).status_code for _ in range(2)] == [404, 404]
        resp = client.get(url)
        assert_error(resp, 429, "rate_limited", "rate limit")
        assert resp.headers["retry-after"] == "2"
        assert metric(client, "degraded_requests_total", dependency="redis") == degraded
