"""The Lua token bucket itself, on a real Redis: refill, the burst cap, expiry, the reads it carries.

A bucket's state is set directly (`t` tokens at Redis time `ts`) so refill and the cap are
checked without sleeping: the script computes elapsed time from Redis's own clock.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from app.cache import Cache
from app.ratelimit import TOKEN_BUCKET, RateLimiter, retry_after
from app.settings import Settings

KEY = "ratelimit:test-bucket"


@pytest.fixture
def r(redis):
    with redis.client() as c:
        c.flushall()
        yield c


def take(r, rate: float, burst: int, *reads: str) -> tuple[int, float, list]:
    allowed, wait, *values = r.eval(TOKEN_BUCKET, 1 + len(reads), KEY, *reads, rate, burst)
    return int(allowed), float(wait), values


def redis_now(r) -> float:
    sec, usec = r.time()
    return sec + usec / 1e6


def set_bucket(r, tokens: float, age_s: float) -> None:
    r.hset(KEY, mapping={"t": tokens, "ts": redis_now(r) - age_s})


def test_a_new_bucket_holds_burst_tokens_then_refuses(r):
    assert [take(r, 1, 3)[0] for _ in range(4)] == [1, 1, 1, 0]


def test_an_empty_bucket_waits_for_one_token_at_the_rate(r):
    set_bucket(r, 0, -3600)  # stamped in the future: no refill, however slow this machine is
    allowed, wait, _ = take(r, 4, 10)
    assert allowed == 0
    assert wait == 0.25  # one token at 4/s


def test_tokens_refill_at_the_rate(r):
    # 500 s at 0.01/s: 5 tokens back; a stall of this test adds a token only after 100 s.
    set_bucket(r, 0, 500)
    assert [take(r, 0.01, 100)[0] for _ in range(6)] == [1, 1, 1, 1, 1, 0]


def test_refill_never_exceeds_the_burst(r):
    set_bucket(r, 0, 3600)  # an hour idle at 10/s would be 36000 tokens without the cap
    assert [take(r, 10, 3)[0] for _ in range(4)] == [1, 1, 1, 0]


def test_a_full_bucket_stays_at_the_cap(r):
    set_bucket(r, 3, 60)
    assert [take(r, 10, 3)[0] for _ in range(4)] == [1, 1, 1, 0]


def _pttl_right_after(r, rate: float, burst: int) -> int:
    # One MULTI: the TTL is read right after the script, with no time for it to run down.
    pipe = r.pipeline(transaction=True)
    pipe.eval(TOKEN_BUCKET, 1, KEY, rate, burst)
    pipe.pttl(KEY)
    return pipe.execute()[1]


def test_the_bucket_expires_once_it_would_be_full_again(r):
    # Refilling 3 tokens at 0.5/s takes 6 s; the key lives one second more, then Redis drops it.
    assert 6900 < _pttl_right_after(r, 0.5, 3) <= 7000
    assert 1900 < _pttl_right_after(r, 100, 3) <= 2000  # ceil(3 / 100) + 1


def test_the_state_is_stored_with_the_redis_clock(r):
    take(r, 1, 5)
    tokens, ts = r.hmget(KEY, "t", "ts")
    assert float(tokens) == 4
    assert abs(float(ts) - redis_now(r)) < 5


def test_reads_ride_along_with_the_token(r):
    r.set("a", b"1")
    assert take(r, 1, 2, "a", "missing")[2] == [b"1", None]


@pytest.mark.parametrize("wait, header", [(0.001, "1"), (1.0, "1"), (1.01, "2"), (2.0, "2")])
def test_retry_after_rounds_up_to_whole_seconds(wait, header):
    assert retry_after(wait) == header


def _limiter(url: str, **settings) -> RateLimiter:
    # A generous Redis timeout: a call that timed out on a busy machine would fail open and
    # leave no bucket, which these tests would read as a wrong key or a missing read.
    settings = {"redis_timeout_seconds": 5.0, **settings}
    s = Settings(environment="development", database_url="postgresql://unused/db", redis_url=url.split(","),
                 api_keys=["k" * 16], redis_breaker_threshold=1, redis_breaker_base_seconds=30,
                 redis_breaker_max_seconds=30, **settings)
    from app.cache import make_client
    return RateLimiter(Cache(s, make_client(s)), rate=0.001, burst=2)


def test_limiter_returns_wait_and_reads(redis, r):
    async def go():
        limiter = _limiter(redis.url)
        state = SimpleNamespace()
        r.set("x", b"v")
        try:
            got = [await limiter.check("client-a", state, ("x",)) for _ in range(3)]
        finally:
            await limiter.cache.client.aclose()
        return got, state
    got, state = asyncio.run(go())
    assert got[0] == (None, [b"v"]) and got[1] == (None, [b"v"])
    wait, values = got[2]
    assert 990 < wait <= 1000 and values == [b"v"]  # one token at 0.001/s
    assert not getattr(state, "degraded_redis", False)


def test_limiter_lets_requests_through_while_redis_is_down(redis, outage):
    async def go():
        limiter = _limiter(redis.url, redis_timeout_seconds=0.5)
        try:
            outage.stop(redis)
            first = await limiter.check("c", SimpleNamespace())
            state = SimpleNamespace()
            second = await limiter.check("c", state)  # the breaker is open: Redis is not even tried
            return first, second, state, (limiter.cache.breaker.name, limiter.cache.last_error)
        finally:
            await limiter.cache.client.aclose()
    first, second, state, breaker = asyncio.run(go())
    assert first == (None, None) and second == (None, None)
    assert state.degraded_redis is True and breaker == ("open", "ConnectionError")


def test_the_bucket_key_is_the_hashed_client_id(redis, r):
    import hashlib

    async def go():
        limiter = _limiter(redis.url)
        try:
            await limiter.check("client-a", SimpleNamespace())
        finally:
            await limiter.cache.client.aclose()
    asyncio.run(go())
    digest = hashlib.blake2b(b"client-a", digest_size=12).hexdigest()
    assert r.keys("ratelimit:*") == [f"ratelimit:{digest}".encode()]


def test_limiter_in_cluster_mode_takes_tokens_and_reads_in_one_pipeline(redis_cluster):
    import redis as redis_sync

    alive = redis_cluster.nodes[0]
    with redis_sync.RedisCluster(host="127.0.0.1", port=alive.port) as rc:
        rc.flushall()
        rc.set("x", b"v")

    async def go():
        limiter = _limiter(redis_cluster.url.split(",")[0], redis_mode="cluster")
        state = SimpleNamespace()
        try:
            got = [await limiter.check("client-c", state, ("x", "missing")) for _ in range(3)]
        finally:
            await limiter.cache.client.aclose()
        return limiter.clustered, got, state
    clustered, got, state = asyncio.run(go())
    assert clustered is True
    assert got[0] == (None, [b"v", None]) and got[1] == (None, [b"v", None])
    wait, values = got[2]
    assert 990 < wait <= 1000 and values == [b"v", None]
    assert not getattr(state, "degraded_redis", False)


def test_a_short_wait_is_reported_as_it_is(redis, r):
    async def go():
        limiter = _limiter(redis.url)
        limiter.rate, limiter.burst = 4.0, 1  # one token every 0.25 s
        try:
            return [await limiter.check("client-short", SimpleNamespace()) for _ in range(2)]
        finally:
            await limiter.cache.client.aclose()
    first, second = asyncio.run(go())
    assert first == (None, [])
    assert 0.001 <= second[0] <= 0.25  # the bucket's own figure, never rounded up to a second here


def test_in_cluster_mode_a_search_check_keeps_the_other_reads(redis_cluster):
    import redis as redis_sync

    from app import search_pages

    with redis_sync.RedisCluster(host="127.0.0.1", port=redis_cluster.nodes[0].port) as rc:
        rc.flushall()
        rc.set("x", b"v")

    async def go():
        limiter = _limiter(redis_cluster.url.split(",")[0], redis_mode="cluster")
        try:
            return await limiter.check("client-s", SimpleNamespace(), ("x",), search=search_pages.PREFIX + ":page:p")
        finally:
            await limiter.cache.client.aclose()
    assert asyncio.run(go()) == (None, [b"v", 0, b"0"])  # the read, then the page check: a miss at seq 0


def test_in_cluster_mode_a_search_check_keeps_every_other_read_in_order(redis_cluster):
    import redis as redis_sync

    from app import search_pages

    with redis_sync.RedisCluster(host="127.0.0.1", port=redis_cluster.nodes[0].port) as rc:
        rc.flushall()
        rc.set("x", b"v")
        rc.set("y", b"w")

    async def go():
        limiter = _limiter(redis_cluster.url.split(",")[0], redis_mode="cluster")
        try:
            return await limiter.check("client-s2", SimpleNamespace(), ("x", "y"),
                                       search=search_pages.PREFIX + ":page:p")
        finally:
            await limiter.cache.client.aclose()
    assert asyncio.run(go()) == (None, [b"v", b"w", 0, b"0"])
