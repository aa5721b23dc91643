"""The Cache while Redis fails: no retries in the cluster client, a slot-map reload after a failure,
and a write's search mark in the background while the breaker is open (real Redis)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from types import SimpleNamespace

from redis.backoff import NoBackoff

from app.breaker import OPEN
from app.search_pages import WRITES_KEY
from tests.app.test_cache_unit import _cache, _run

WHEN = datetime(2033, 4, 1, 7, 30, tzinfo=UTC)


def test_the_cluster_client_fails_a_call_once_without_retrying():
    c = _cache("redis://10.0.0.1:7000", redis_mode="cluster").client
    assert c.retry.get_retries() == 0 and isinstance(c.retry._backoff, NoBackoff)


def test_a_failure_has_only_the_cluster_client_reload_its_slot_map():
    cluster = _cache("redis://10.0.0.1:7000", redis_mode="cluster")
    cluster.client._initialize = False
    cluster.failed(ConnectionError("gone"), SimpleNamespace())
    assert cluster.client._initialize is True
    standalone = _cache("redis://127.0.0.1:1")
    standalone.failed(ConnectionError("gone"), SimpleNamespace())
    assert not hasattr(standalone.client, "_initialize")


def _open(cache):
    for _ in range(cache.breaker.threshold):
        cache.breaker.failure()
    assert cache.breaker.state == OPEN


def test_with_the_breaker_open_the_mark_runs_after_the_write_returns(redis):
    async def go():
        cache = _cache(redis.url)
        try:
            _open(cache)
            state = SimpleNamespace()
            await cache.invalidate_search(WHEN, state)
            with redis.client() as c:
                before = c.hgetall(WRITES_KEY)
            pending = len(cache._background)
            await asyncio.gather(*list(cache._background))
            await asyncio.sleep(0)  # the done callback runs on the next turn of the loop
            with redis.client() as c:
                after = c.hget(WRITES_KEY, "seq")
            return before, pending, after, len(cache._background), state, cache.breaker.state
        finally:
            await cache.client.aclose()

    with redis.client() as c:
        c.delete(WRITES_KEY)
    before, pending, after, left, state, breaker = _run(go())
    assert before == {} and pending == 1  # returned first, the mark still held by the cache
    assert after == b"1" and left == 0
    assert not getattr(state, "degraded_redis", False) and breaker == OPEN  # the mark does not move it


def test_a_background_mark_that_fails_degrades_the_request_without_moving_the_open_breaker(redis, outage, caplog):
    caplog.set_level(logging.WARNING, logger="app.cache")

    async def go():
        cache = _cache(redis.url)
        try:
            _open(cache)
            failures = cache.breaker.failures
            outage.stop(redis)
            state = SimpleNamespace()
            await cache.invalidate_search(WHEN, state)
            await asyncio.gather(*list(cache._background))
            return state, cache.breaker.failures - failures, cache.breaker.state, cache.last_error
        finally:
            await cache.client.aclose()

    state, more_failures, breaker, last_error = _run(go())
    assert state.degraded_redis is True and more_failures == 0 and breaker == OPEN
    assert last_error == "ConnectionError"
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["redis circuit breaker open", "redis unavailable"]  # the trip, then the mark


def test_the_trip_log_says_when_redis_is_tried_again_to_the_millisecond(caplog):
    caplog.set_level(logging.WARNING, logger="app.cache")
    cache = _cache("redis://127.0.0.1:1", redis_breaker_base_seconds=0.5, redis_breaker_max_seconds=0.5)
    _open(cache)
    (record,) = [r for r in caplog.records if r.getMessage() == "redis circuit breaker open"]
    assert isinstance(record.retry_in_s, float) and 0.25 <= record.retry_in_s <= 0.5
    assert record.retry_in_s == round(record.retry_in_s, 3) and record.trips_in_a_row == 1


def test_readiness_with_the_breaker_open_names_the_last_error_only_when_there_is_one():
    cache = _cache("redis://127.0.0.1:1")
    _open(cache)
    assert _run(cache.ping()) == "breaker open"
    cache.last_error = "ConnectionError"
    assert _run(cache.ping()) == "breaker open after ConnectionError"


def test_a_page_not_stored_while_the_breaker_is_open_degrades_the_request(redis):
    async def go():
        cache = _cache(redis.url)
        try:
            _open(cache)
            state = SimpleNamespace()
            await cache.put_search("{events:search}:page:x", 1, ("h", 1, 1), b"page", state)
            return state
        finally:
            await cache.client.aclose()

    assert _run(go()).degraded_redis is True
