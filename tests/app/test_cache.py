"""Cache-aside on real Redis: misses fill, hits skip the database, writes invalidate searches."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from app.search_pages import WRITES_KEY
from tests.app.conftest import create, metric

WINDOW = {"starts_at": "2032-07-01T00:00:00Z", "ends_at": "2032-07-02T00:00:00Z"}


def _hits_and_misses(client):
    return metric(client, "cache_requests_total", result="hit"), metric(client, "cache_requests_total", result="miss")


def test_second_read_is_a_hit_and_the_entry_has_the_ttl(app_factory, redis):
    with app_factory(cache_event_ttl_seconds=45) as client:
        event = create(client, starts_at="2032-07-01T09:00:00Z", ends_at="2032-07-01T10:00:00Z")
        hits, misses = _hits_and_misses(client)
        first = client.get(f"/v1/events/{event['id']}")
        second = client.get(f"/v1/events/{event['id']}")
        assert first.json() == second.json() == event
        assert _hits_and_misses(client) == (hits + 1, misses + 1)
        with redis.client() as c:
            assert 0 < c.ttl(f"event:{event['id']}") <= 45


def test_cached_page_is_served_without_the_database(client, redis, postgres):
    create(client, starts_at="2032-07-01T11:00:00Z", ends_at="2032-07-01T12:00:00Z")
    first = client.get("/v1/events/search", params=WINDOW).json()
    # Change the row behind the cache's back: a hit must still return what was cached.
    postgres.psql("UPDATE events SET title = 'changed underneath' WHERE starts_at = '2032-07-01T11:00:00Z'")
    assert client.get("/v1/events/search", params=WINDOW).json() == first


def test_a_write_invalidates_cached_searches(client):
    before = client.get("/v1/events/search", params=WINDOW).json()["items"]
    assert client.get("/v1/events/search", params=WINDOW).json()["items"] == before  # now cached
    new = create(client, starts_at="2032-07-01T15:00:00Z", ends_at="2032-07-01T16:00:00Z")
    after = client.get("/v1/events/search", params=WINDOW).json()["items"]
    assert new["id"] in [e["id"] for e in after]
    assert len(after) == len(before) + 1


def test_cache_entries_expire(app_factory, redis):
    with app_factory(cache_search_ttl_seconds=1, cache_l1_ttl_seconds=0.5) as client:
        client.get("/v1/events/search", params=WINDOW)
        with redis.client() as c:
            keys = c.keys("{events:search}:page:*")
            assert keys and all(0 < c.pttl(k) <= 1000 for k in keys)


def test_a_write_marks_the_search_log_even_while_the_breaker_is_open(app_factory, redis, outage):
    with app_factory(redis_breaker_threshold=1, redis_breaker_base_seconds=300,
                     redis_breaker_max_seconds=300, redis_timeout_seconds=0.5) as client:
        outage.stop(redis)
        assert client.get("/v1/events/search", params=WINDOW).status_code == 200  # from PostgreSQL
        outage.restart(redis)
        assert "breaker open" in client.get("/readyz").text  # Redis is back, the breaker still skips it
        with redis.client() as c:
            c.hset(WRITES_KEY, "seq", 41)  # the restarted Redis kept nothing; pages live under 41
        create(client, starts_at="2032-07-02T11:00:00Z", ends_at="2032-07-02T12:00:00Z")
        with redis.client() as c:
            # Without this mark, pages cached before the outage would be served as fresh once
            # the breaker closes again. With the breaker open it runs after the write answered.
            deadline = time.monotonic() + 10
            while int(c.hget(WRITES_KEY, "seq")) != 42 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert int(c.hget(WRITES_KEY, "seq")) == 42
            assert int(c.hget(WRITES_KEY, "d" + str(int(datetime(2032, 7, 2, tzinfo=UTC).timestamp()) // 86400))) == 42
