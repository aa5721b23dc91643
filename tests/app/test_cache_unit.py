"""The Cache object itself on a real Redis: what a failure, a trip and a skipped call record."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from app.cache import Cache, make_client, mark_degraded
from app.search_pages import WRITES_KEY
from app.settings import Settings


def _sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _cache(url: str, **overrides) -> Cache:
    values = dict(environment="development", database_url="postgresql://u:p@127.0.0.1:1/db",
                  redis_url=url.split(","), api_keys=["k" * 16], cache_event_ttl_seconds=45, cache_search_ttl_seconds=45, redis_timeout_seconds=0.5,
                  redis_breaker_threshold=2, redis_breaker_base_seconds=60, redis_breaker_max_seconds=60)
    values.update(overrides)
    s = Settings(**values)
    return Cache(s, make_client(s))


def _run(coro):
    return asyncio.run(coro)


def test_a_request_is_counted_degraded_once_however_many_calls_fail():
    before = _sample("degraded_requests_total", dependency="redis")
    state = SimpleNamespace()
    mark_degraded(state)
    mark_degraded(state)
    assert state.degraded_redis is True
    assert _sample("degraded_requests_total", dependency="redis") == before + 1
    mark_degraded(SimpleNamespace())
    assert _sample("degraded_requests_total", dependency="redis") == before + 2


def test_put_event_stores_with_the_ttl_and_reports_success(redis):
    async def go():
        cache = _cache(redis.url)
        try:
            cache.breaker.failure()  # one failure short of tripping
            await cache.put_event("e1", b"body", SimpleNamespace())
            return cache.breaker.failures
        finally:
            await cache.client.aclose()
    assert _run(go()) == 0  # a success resets the count of failures in a row
    with redis.client() as c:
        assert c.get("event:e1") == b"body"
        assert 40 < c.ttl("event:e1") <= 45


def test_failures_open_the_breaker_and_say_so(redis, outage, caplog):
    trips = _sample("redis_breaker_trips_total")
    caplog.set_level(logging.WARNING, logger="app.cache")

    async def go():
        cache = _cache(redis.url)
        try:
            outage.stop(redis)
            s1, s2 = SimpleNamespace(), SimpleNamespace()
            await cache.put_event("e2", b"x", s1)
            assert cache.breaker.name == "closed"  # one failure: threshold is 2
            await cache.put_search("k", 1, ("h", 1, 2), b"page", s2)
            assert cache.breaker.name == "open"
            skipped = SimpleNamespace()
            await cache.put_event("e3", b"x", skipped)  # not even tried
            return cache, s1, s2, skipped, await cache.ping()
        finally:
            await cache.client.aclose()
    cache, s1, s2, skipped, ping = _run(go())
    assert s1.degraded_redis and s2.degraded_redis and skipped.degraded_redis
    assert cache.last_error == "ConnectionError"
    assert ping == "breaker open after ConnectionError"
    assert _sample("redis_breaker_trips_total") == trips + 1
    unavailable = [r for r in caplog.records if r.getMessage() == "redis unavailable"]
    assert len(unavailable) == 2 and all("ConnectionError" in r.error for r in unavailable)
    assert all(r.breaker in ("closed", "open") for r in unavailable)
    opened = [r for r in caplog.records if r.getMessage() == "redis circuit breaker open"]
    assert len(opened) == 1 and opened[0].trips_in_a_row == 1 and 0 < opened[0].retry_in_s <= 60


def test_ping_answers_none_and_closes_a_half_open_breaker(redis):
    async def go():
        cache = _cache(redis.url, redis_breaker_base_seconds=0, redis_breaker_max_seconds=0)
        try:
            cache.breaker.failure()
            cache.breaker.failure()  # open, with a retry time already reached
            return await cache.ping(), cache.breaker.name
        finally:
            await cache.client.aclose()
    assert _run(go()) == (None, "closed")


def test_ping_names_the_error_when_redis_is_down(redis, outage):
    async def go():
        cache = _cache(redis.url)
        try:
            outage.stop(redis)
            return await cache.ping(), cache.breaker.failures, cache.last_error
        finally:
            await cache.client.aclose()
    assert _run(go()) == ("ConnectionError", 1, "ConnectionError")


@pytest.mark.parametrize("values, expected", [(None, (None, None, None)), ([0, b"0"], (None, None, 0)),
                                              ([1, b"3 h -2 5|page"], (b"page", ("h", -2, 5), None)),
                                              ([0, b"4"], (None, None, 4))])
def test_search_hit(values, expected):
    cache = Cache.__new__(Cache)
    assert cache.search_hit(values) == expected


def test_standalone_client_takes_the_timeouts_and_pool_size():
    c = _cache("redis://127.0.0.1:6390/2", redis_timeout_seconds=0.75).client
    kw = c.connection_pool.connection_kwargs
    assert (kw["host"], kw["port"], kw["db"]) == ("127.0.0.1", 6390, 2)
    assert kw["socket_timeout"] == kw["socket_connect_timeout"] == 0.75
    assert c.connection_pool.max_connections == 256


def test_cluster_client_knows_every_startup_node_and_tolerates_uncovered_slots():
    c = _cache("redis://10.0.0.1:7000,redis://10.0.0.2", redis_mode="cluster", redis_timeout_seconds=0.75).client
    nodes = [(n.host, n.port) for n in c.nodes_manager.startup_nodes.values()]
    assert sorted(nodes) == [("10.0.0.1", 7000), ("10.0.0.2", 6379)]
    assert c.nodes_manager.require_full_coverage is False
    assert c.nodes_manager.connection_kwargs["socket_timeout"] == 0.75
    assert c.nodes_manager.connection_kwargs["socket_connect_timeout"] == 0.75


def test_search_keys_ignore_parameter_order_and_differ_by_value():
    from app.search_pages import page_key
    a = page_key([("starts_at", "x"), ("limit", "5")])
    assert a == page_key([("limit", "5"), ("starts_at", "x")])
    assert a != page_key([("limit", "6"), ("starts_at", "x")])
    assert a.startswith("{events:search}:page:") and len(a) == len("{events:search}:page:") + 24


def test_event_hit_counts_hits_and_misses():
    cache = Cache.__new__(Cache)
    hits = _sample("cache_requests_total", tier="l2", result="hit")
    misses = _sample("cache_requests_total", tier="l2", result="miss")
    assert cache.event_hit([b"body"]) == b"body"
    assert cache.event_hit([None]) is None
    assert cache.event_hit(None) is None  # Redis failed: neither a hit nor a miss
    assert (_sample("cache_requests_total", tier="l2", result="hit"),
            _sample("cache_requests_total", tier="l2", result="miss")) == (
        hits + 1, misses + 1)


def test_invalidate_marks_the_hour_and_day_and_a_failure_counts_once(redis, outage, caplog):
    caplog.set_level(logging.WARNING, logger="app.cache")
    when = datetime(2033, 4, 1, 7, 30, tzinfo=UTC)
    hour, day = int(when.timestamp()) // 3600, int(when.timestamp()) // 86400

    async def go():
        cache = _cache(redis.url)
        try:
            with redis.client() as c:
                c.hset(WRITES_KEY, "seq", 7)
            ok = SimpleNamespace()
            await cache.invalidate_search(when, ok)
            with redis.client() as c:
                marks = c.hgetall(WRITES_KEY)
            outage.stop(redis)
            down = SimpleNamespace()
            await cache.invalidate_search(when, down)
            return marks, ok, down, cache.breaker.failures, cache.last_error
        finally:
            await cache.client.aclose()
    marks, ok, down, failures, last_error = _run(go())
    assert marks == {b"seq": b"8", f"h{hour}".encode(): b"8", f"d{day}".encode(): b"8", b"all": b"8"}
    assert not getattr(ok, "degraded_redis", False)
    assert down.degraded_redis is True and failures == 1 and last_error == "ConnectionError"
    assert [r.getMessage() for r in caplog.records] == ["redis unavailable"]
    assert "ConnectionError" in caplog.records[0].error


def test_put_search_stores_the_write_seq_and_span_with_the_page(redis):
    async def go():
        cache = _cache(redis.url)
        try:
            await cache.put_search("{events:search}:page:k", 5, ("h", -3, 4), b"[1,2]", SimpleNamespace())
        finally:
            await cache.client.aclose()
    _run(go())
    with redis.client() as c:
        assert c.get("{events:search}:page:k") == b"5 h -3 4|[1,2]"
        assert 40 < c.ttl("{events:search}:page:k") <= 45


def test_a_hit_and_a_miss_are_each_counted_as_what_they_are():
    cache = Cache.__new__(Cache)

    def counts():
        return (_sample("cache_requests_total", tier="l2", result="hit"),
                _sample("cache_requests_total", tier="l2", result="miss"))

    hits, misses = counts()
    cache.event_hit([b"body"])
    assert counts() == (hits + 1, misses)
    cache.event_hit([None])
    assert counts() == (hits + 1, misses + 1)


def test_a_write_drops_only_the_l1_pages_under_its_hour_and_day(redis):
    when = datetime(2033, 4, 1, 7, 30, tzinfo=UTC)
    hour, day = int(when.timestamp()) // 3600, int(when.timestamp()) // 86400

    async def go():
        cache = _cache(redis.url)
        try:
            l1 = cache.l1
            for key, span in (("hour", ("h", hour, hour)), ("day", ("d", day, day)),
                              ("other hour", ("h", hour + 30, hour + 31)), ("other day", ("d", day + 3, day + 4))):
                l1.put_page(key, key.encode(), span, l1.version)
            await cache.invalidate_search(when, SimpleNamespace())
            return [l1.get(k) for k in ("hour", "day", "other hour", "other day")]
        finally:
            await cache.client.aclose()
    assert _run(go()) == [None, None, b"other hour", b"other day"]


def test_an_l1_lookup_answers_the_entry_and_counts_a_hit_or_a_miss():
    cache = _cache("redis://127.0.0.1:1")
    cache.l1.put_event("k", b"body")
    hits = _sample("cache_requests_total", tier="l1", result="hit")
    misses = _sample("cache_requests_total", tier="l1", result="miss")
    assert cache.l1_get("k") == cache.l1_get("k") == b"body"
    assert cache.l1_get("absent") is None
    assert (_sample("cache_requests_total", tier="l1", result="hit"),
            _sample("cache_requests_total", tier="l1", result="miss")) == (hits + 2, misses + 1)


def test_a_write_mark_is_kept_past_the_search_ttl_and_a_searchs_database_time():
    cache = _cache("redis://127.0.0.1:1", cache_search_ttl_seconds=45, db_timeout_seconds=5)
    # Two attempts, each a pool checkout and a query of up to 5 s, then 60 s for stalls.
    assert cache.mark_keep_s == 45 + 4 * 5 + 60


def test_a_new_cache_has_no_error_and_its_l1_keeps_the_settings_ttl():
    cache = _cache("redis://127.0.0.1:1", cache_l1_ttl_seconds=7)
    assert cache.last_error is None
    assert cache.l1.ttl_s == 7


def test_the_breaker_state_gauge_follows_the_breaker():
    cache = _cache("redis://127.0.0.1:1")  # threshold 2
    assert _sample("redis_breaker_state") == 0
    cache.breaker.failure()
    cache.breaker.failure()
    assert _sample("redis_breaker_state") == 2
    _cache("redis://127.0.0.1:1")  # a new cache starts closed
    assert _sample("redis_breaker_state") == 0


def test_the_cluster_client_pools_256_connections_per_node():
    c = _cache("redis://10.0.0.1:7000", redis_mode="cluster").client
    assert c.nodes_manager.connection_kwargs["max_connections"] == 256
