"""The in-process tier: what a write drops, the race it refuses, and serving while Redis is down."""

from __future__ import annotations

import random
import time

from app.l1 import L1, RECENT
from tests.app.conftest import create, metric


def test_an_invalidation_drops_only_the_pages_indexed_under_its_hour_or_day():
    l1 = L1(size=100, ttl_s=60)
    l1.put_page("hours 10-12", b"a", ("h", 10, 12), l1.version)
    l1.put_page("days 3-4", b"b", ("d", 3, 4), l1.version)
    l1.put_page("all", b"c", ("all", 0, 0), l1.version)
    l1.put_event("event", b"e")
    l1.invalidate(13, 5)  # hour 13, day 5: only the `all` page can hold it
    assert [l1.get(k) for k in ("hours 10-12", "days 3-4", "all", "event")] == [b"a", b"b", None, b"e"]
    l1.invalidate(12, 9)
    assert l1.get("hours 10-12") is None and l1.get("days 3-4") == b"b"
    l1.invalidate(1, 3)
    assert l1.get("days 3-4") is None and l1.get("event") == b"e"


def test_a_page_read_across_an_invalidation_that_covers_it_is_not_stored():
    l1 = L1(size=100, ttl_s=60)
    since = l1.version
    l1.invalidate(11, 0)  # arrives while the page is being read from Redis or PostgreSQL
    assert l1.put_page("covered", b"old", ("h", 10, 12), since) is False
    assert l1.get("covered") is None
    assert l1.put_page("elsewhere", b"ok", ("h", 20, 22), since) is True


def test_a_lost_invalidation_clears_every_page_and_refuses_older_reads():
    l1 = L1(size=100, ttl_s=60)
    since = l1.version
    l1.put_page("p", b"x", ("h", 1, 1), since)
    l1.invalidate(None, None)  # the subscription was re-established: messages may be lost
    assert l1.get("p") is None
    assert l1.put_page("p", b"x", ("h", 1, 1), since) is False
    since = l1.version
    for i in range(RECENT + 1):
        l1.invalidate(1000 + i, 1000 + i)
    assert l1.put_page("q", b"y", ("h", 1, 1), since) is False  # too many to check: not stored


def test_the_index_is_rebuilt_when_it_outgrows_the_cache():
    l1 = L1(size=2, ttl_s=60)
    for i in range(20):
        l1.put_page(f"p{i}", b"x", ("h", 0, 0), l1.version)
    assert len(l1.entries) == 2 and l1.indexed <= 16
    l1.invalidate(0, 0)
    assert len(l1.entries) == 0


def test_with_redis_down_l1_serves_until_its_ttl_then_the_database(app_factory, redis, postgres, outage):
    ttl = 2.0
    day = f"{random.randint(2036, 2099)}-{random.randint(1, 12):02d}-{random.randint(1, 28):02d}"
    window = {"starts_at": f"{day}T00:00:00Z", "ends_at": f"{day}T23:00:00Z"}
    with app_factory(cache_l1_ttl_seconds=ttl, redis_timeout_seconds=0.2) as client:
        subscriber = client.app.state.services.subscriber
        deadline = time.monotonic() + 10
        while not subscriber.connected:  # its first subscription drops every page cached before it
            assert time.monotonic() < deadline, "the invalidation subscription never connected"
            time.sleep(0.01)
        create(client, starts_at=f"{day}T09:00:00Z", ends_at=f"{day}T10:00:00Z")
        cached_at = time.monotonic()
        first = client.get("/v1/events/search", params=window).json()["items"]
        expired_by = time.monotonic() + ttl  # the page entered L1 before its answer came back
        outage.stop(redis)
        # A write this worker never hears of: another replica's, whose invalidation cannot arrive.
        postgres.psql("INSERT INTO events (title, venue, starts_at, ends_at, capacity) VALUES "
                      f"('unheard', 'Hall A', '{day}T11:00:00Z', '{day}T12:00:00Z', 5)")
        hits = metric(client, "cache_requests_total", tier="l1", result="hit")
        during = client.get("/v1/events/search", params=window)
        if time.monotonic() - cached_at < ttl:
            assert during.status_code == 200 and during.json()["items"] == first  # served by L1
            assert metric(client, "cache_requests_total", tier="l1", result="hit") == hits + 1
        time.sleep(max(0.0, expired_by - time.monotonic()))
        after = client.get("/v1/events/search", params=window)
        assert after.status_code == 200
        assert "unheard" in [e["title"] for e in after.json()["items"]], "L1 served a page past its TTL"
