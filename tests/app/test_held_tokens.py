"""Tokens a worker takes in a batch and holds: fewer round trips, never more admissions (real Redis)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from app.cache import Cache, make_client
from app.ratelimit import TOKEN_BUCKET, RateLimiter, batch_for
from app.settings import Settings


@pytest.fixture
def r(redis):
    with redis.client() as c:
        c.flushall()
        yield c


def _limiter(url: str, **kw) -> RateLimiter:
    s = Settings(environment="development", database_url="postgresql://u:p@127.0.0.1:1/db", redis_url=[url],
                 api_keys=["k" * 16], redis_timeout_seconds=0.5)
    return RateLimiter(Cache(s, make_client(s)), **kw)


def _bucket_tokens(r) -> float:
    (key,) = r.keys("ratelimit:*")
    return float(r.hget(key, "t"))


def test_the_script_grants_at_most_the_whole_tokens_left(r):
    assert r.eval(TOKEN_BUCKET, 1, "ratelimit:b", 0.001, 10, 4)[0] == 4
    assert r.eval(TOKEN_BUCKET, 1, "ratelimit:b", 0.001, 10, 64)[0] == 6  # 6 left of the burst
    granted, wait = r.eval(TOKEN_BUCKET, 1, "ratelimit:b", 0.001, 10, 64)
    assert granted == 0 and float(wait) > 0


def test_held_tokens_are_spent_without_redis_and_a_batch_is_taken_when_they_run_out(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=10)
        try:
            out = [await limiter.check("c", SimpleNamespace())]
            tokens_after_first = _bucket_tokens(r)
            out += [await limiter.check("c", SimpleNamespace()) for _ in range(9)]
            tokens_after_ten = _bucket_tokens(r)
            out.append(await limiter.check("c", SimpleNamespace()))
            return out, tokens_after_first, tokens_after_ten, _bucket_tokens(r)
        finally:
            await limiter.cache.client.aclose()
    out, first, ten, eleven = asyncio.run(go())
    assert all(wait is None for wait, _ in out)
    assert round(first) == 90 and round(ten) == 90 and round(eleven) == 80


def test_a_client_is_never_admitted_more_than_the_bucket_grants(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=25, batch=10)
        try:
            return [await limiter.check("c", SimpleNamespace()) for _ in range(40)]
        finally:
            await limiter.cache.client.aclose()
    results = asyncio.run(go())
    assert sum(1 for wait, _ in results if wait is None) == 25
    assert all(wait is not None and wait > 0 for wait, _ in results[25:])


def test_held_tokens_lapse_after_the_hold_time(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=10, hold_s=0.2)
        try:
            await limiter.check("c", SimpleNamespace())
            held_at_once = limiter.take_held("c")
            time.sleep(0.25)
            return held_at_once, limiter.take_held("c")
        finally:
            await limiter.cache.client.aclose()
    assert asyncio.run(go()) == (True, False)


def test_a_held_token_still_reads_the_cache(redis, r):
    r.set("event:x", b"body")

    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=10)
        try:
            await limiter.check("c", SimpleNamespace())
            return await limiter.check("c", SimpleNamespace(), ("event:x",))
        finally:
            await limiter.cache.client.aclose()
    assert asyncio.run(go()) == (None, [b"body"])
    assert round(_bucket_tokens(r)) == 90  # the read took no token from Redis


@pytest.mark.parametrize("rate, burst, batch", [(50, 100, 1), (1000, 2000, 20), (5000, 10000, 64),
                                                (1_000_000, 40, 2), (200, 400, 4)])
def test_the_batch_is_small_against_the_rate_and_the_burst(rate, burst, batch):
    assert batch_for(rate, burst) == batch


def test_concurrent_requests_take_one_batch_not_one_each(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=10)
        try:
            results = await asyncio.gather(*(limiter.check("c", SimpleNamespace()) for _ in range(50)))
            return results, _bucket_tokens(r)
        finally:
            await limiter.cache.client.aclose()
    results, left = asyncio.run(go())
    assert all(wait is None for wait, _ in results)  # 50 requests within a burst of 100
    assert left >= 100 - 50 - 9 - 1  # at most one batch's unused tokens held back
