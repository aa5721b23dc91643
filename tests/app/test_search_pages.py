"""A write invalidates only the cached search pages it can change, never fewer (real Redis and PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from app import search_pages
from app.cache import Cache, make_client
from app.ratelimit import RateLimiter
from app.settings import Settings
from tests.app.conftest import create, make_settings, metric, running


def _day(d: int) -> dict:
    """A day of its own per test: the database is shared by the session."""
    return {"starts_at": f"2033-04-{d:02d}T00:00:00Z", "ends_at": f"2033-04-{d + 1:02d}T00:00:00Z"}


def _hits(client) -> float:
    return sum(metric(client, "cache_requests_total", tier=tier, result="hit") for tier in ("l1", "l2"))


def _ids(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [e["id"] for e in resp.json()["items"]]


def test_a_write_outside_a_cached_window_keeps_its_page(client):
    day = _day(3)
    create(client, starts_at="2033-04-03T09:00:00Z", ends_at="2033-04-03T10:00:00Z")
    first = _ids(client.get("/v1/events/search", params=day))
    create(client, starts_at="2033-06-10T09:00:00Z", ends_at="2033-06-10T10:00:00Z")
    hits = _hits(client)
    assert _ids(client.get("/v1/events/search", params=day)) == first
    assert _hits(client) == hits + 1  # still cached: the write cannot change this page


def test_a_write_after_a_full_page_keeps_it_and_one_inside_replaces_it(client):
    day = _day(5)
    made = [create(client, starts_at=f"2033-04-05T{h:02d}:00:00Z", ends_at=f"2033-04-05T{h:02d}:30:00Z")["id"]
            for h in (1, 2, 3)]
    params = {**day, "limit": 2}
    assert _ids(client.get("/v1/events/search", params=params)) == made[:2]  # full: ends at 02:00
    create(client, starts_at="2033-04-05T20:00:00Z", ends_at="2033-04-05T21:00:00Z")  # on a later page
    hits = _hits(client)
    assert _ids(client.get("/v1/events/search", params=params)) == made[:2]
    assert _hits(client) == hits + 1
    early = create(client, starts_at="2033-04-05T00:30:00Z", ends_at="2033-04-05T00:45:00Z")["id"]
    assert _ids(client.get("/v1/events/search", params=params)) == [early, made[0]]


def test_a_write_at_the_last_items_instant_replaces_the_page(client):
    day = _day(7)
    made = [create(client, starts_at="2033-04-07T05:00:00Z", ends_at="2033-04-07T06:00:00Z")["id"]
            for _ in range(3)]
    params = {**day, "limit": 2}
    first = _ids(client.get("/v1/events/search", params=params))
    assert first == sorted(made)[:2]
    # Same instant as the last item: whether it belongs on this page depends on its id.
    new = create(client, starts_at="2033-04-07T05:00:00Z", ends_at="2033-04-07T06:00:00Z")["id"]
    assert _ids(client.get("/v1/events/search", params=params)) == sorted([*made, new])[:2]


def test_a_write_in_a_not_full_page_range_shows_on_the_next_read(client):
    day = _day(9)
    create(client, starts_at="2033-04-09T09:00:00Z", ends_at="2033-04-09T10:00:00Z")
    before = _ids(client.get("/v1/events/search", params=day))
    late = create(client, starts_at="2033-04-09T23:59:00Z", ends_at="2033-04-10T01:00:00Z")["id"]
    assert _ids(client.get("/v1/events/search", params=day)) == [*before, late]


def test_a_cursor_page_is_replaced_by_a_write_in_its_range(client):
    day = _day(11)
    made = [create(client, starts_at=f"2033-04-11T{h:02d}:00:00Z", ends_at=f"2033-04-11T{h:02d}:30:00Z")["id"]
            for h in (1, 2, 3, 4)]
    cursor = client.get("/v1/events/search", params={**day, "limit": 2}).json()["next_cursor"]
    params = {**day, "limit": 2, "cursor": cursor}
    assert _ids(client.get("/v1/events/search", params=params)) == made[2:]
    new = create(client, starts_at="2033-04-11T03:30:00Z", ends_at="2033-04-11T03:45:00Z")["id"]
    assert _ids(client.get("/v1/events/search", params=params)) == [made[2], new]


def test_a_wide_window_is_replaced_by_a_write_anywhere_in_it(client):
    year = random.randint(2100, 2900)  # a window of its own: the database is shared by the session
    wide = {"starts_at": f"{year}-01-01T00:00:00Z", "ends_at": f"{year + 2}-01-01T00:00:00Z"}  # two years: `all`
    first = create(client, starts_at=f"{year}-06-01T00:00:00Z", ends_at=f"{year}-06-01T01:00:00Z")["id"]
    assert _ids(client.get("/v1/events/search", params=wide)) == [first]
    new = create(client, starts_at=f"{year + 1}-12-31T00:00:00Z", ends_at=f"{year + 1}-12-31T01:00:00Z")["id"]
    assert _ids(client.get("/v1/events/search", params=wide)) == [first, new]


@pytest.mark.parametrize("when, level", [
    ("2033-04-01T12:00:00+00:00", "h"), ("2033-04-20T12:00:00+00:00", "d"), ("2099-01-01T00:00:00+00:00", "all")])
def test_the_span_narrows_to_hours_days_or_all(when, level):
    start = datetime(2033, 4, 1, tzinfo=UTC)
    page = {"items": [], "next_cursor": None}
    assert search_pages.span(start, datetime.fromisoformat(when), None, page)[0] == level


def _settings(urls: list[str], **kw) -> Settings:
    return make_settings("postgresql://u:p@127.0.0.1:1/db", urls, **kw)


@pytest.mark.parametrize("mode", ["standalone", "cluster"])
def test_a_write_between_the_miss_and_the_store_leaves_the_stored_page_stale(mode, redis, redis_cluster):
    urls = [redis.url] if mode == "standalone" else redis_cluster.url.split(",")
    settings = _settings(urls, redis_mode=mode)
    key = search_pages.page_key([("starts_at", "2033-04-01"), ("race", mode)])
    start = datetime(2033, 4, 1, tzinfo=UTC)
    span = search_pages.span(start, datetime(2033, 4, 2, tzinfo=UTC), None, {"items": [], "next_cursor": None})

    async def go():
        cache = Cache(settings, make_client(settings))
        limiter = RateLimiter(cache, rate=1000, burst=1000)
        state = SimpleNamespace()
        try:
            page, _, seq = cache.search_hit((await limiter.check("c", state, search=key))[1])
            assert page is None and seq is not None
            # A write commits while the reader queries PostgreSQL, then the reader stores its page.
            await cache.invalidate_search(datetime(2033, 4, 1, 7, tzinfo=UTC), state)
            await cache.put_search(key, seq, span, b"page without the write", state)
            stale = cache.search_hit((await limiter.check("c", state, search=key))[1])
            _, _, seq = stale
            await cache.put_search(key, seq, span, b"page with the write", state)
            fresh = cache.search_hit((await limiter.check("c", state, search=key))[1])
            return stale[0], fresh[0], state
        finally:
            await cache.client.aclose()
    stale, fresh, state = asyncio.run(go())
    assert stale is None and fresh == b"page with the write"
    assert not getattr(state, "degraded_redis", False)


def test_in_cluster_mode_a_write_invalidates_only_the_pages_it_can_change(database_url, redis_cluster):
    settings = make_settings(database_url, redis_cluster.url.split(","), redis_mode="cluster")
    window = {"starts_at": "2033-05-01T00:00:00Z", "ends_at": "2033-05-02T00:00:00Z"}
    with running(settings) as client:
        create(client, starts_at="2033-05-01T09:00:00Z", ends_at="2033-05-01T10:00:00Z")
        first = _ids(client.get("/v1/events/search", params=window))
        create(client, starts_at="2033-07-01T09:00:00Z", ends_at="2033-07-01T10:00:00Z")
        hits = _hits(client)
        assert _ids(client.get("/v1/events/search", params=window)) == first
        assert _hits(client) == hits + 1
        new = create(client, starts_at="2033-05-01T11:00:00Z", ends_at="2033-05-01T12:00:00Z")["id"]
        assert _ids(client.get("/v1/events/search", params=window)) == [*first, new]
