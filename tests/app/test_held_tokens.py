"""Tokens a worker takes in a batch and holds: fewer round trips, never more admissions (real Redis)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from app.cache import Cache, make_client
from app.ratelimit import TOKEN_BUCKET, RateLimiter, batch_for
from app.settings import Settings
from loadline.services import free_port


@pytest.fixture
def r(redis):
    with redis.client() as c:
        c.flushall()
        yield c


def _limiter(url: str, **kw) -> RateLimiter:
    s = Settings(environment="development", database_url="postgresql://u:p@127.0.0.1:1/db", redis_url=[url],
                 api_keys=["k" * 16], redis_timeout_seconds=0.5)
    return RateLimiter(Cache(s, make_client(s)), **kw)


def _degraded() -> float:
    return REGISTRY.get_sample_value("degraded_requests_total", {"dependency": "redis"}) or 0.0


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
                                                (1_000_000, 40, 2), (1_000_000, 50, 2), (200, 400, 4)])
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


async def _refilled(limiter: RateLimiter) -> None:
    """Wait (bounded) until no batch is in flight."""
    for _ in range(500):
        if not limiter.fetching and not limiter._refills:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the batch in flight never arrived")


def test_a_batch_is_taken_ahead_once_half_a_batch_or_less_is_left(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=10)
        try:
            await limiter.check("c", SimpleNamespace())  # takes 10, holds 9
            spent = [limiter.take_held("c") for _ in range(3)]  # 6 left: more than half a batch
            await _refilled(limiter)
            before_half = _bucket_tokens(r)
            spent.append(limiter.take_held("c"))  # 5 left: the next batch is on its way
            in_flight = "c" in limiter.fetching
            await _refilled(limiter)
            return spent, before_half, in_flight, _bucket_tokens(r), sum(b[1] for b in limiter.held.get("c"))
        finally:
            await limiter.cache.client.aclose()
    spent, before_half, in_flight, after_half, held = asyncio.run(go())
    assert spent == [True] * 4 and in_flight
    assert round(before_half) == 90 and round(after_half) == 80
    assert held == 5 + 10


def test_every_spend_is_a_token_the_bucket_granted(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=50, batch=10)
        try:
            admitted = 0
            for _ in range(80):
                wait, _ = await limiter.check("c", SimpleNamespace())
                admitted += wait is None
                await asyncio.sleep(0)  # let a top-up run between requests, as a server would
            await _refilled(limiter)
            return admitted, sum(b[1] for b in limiter.held.get("c") or ())
        finally:
            await limiter.cache.client.aclose()
    admitted, still_held = asyncio.run(go())
    assert admitted + still_held == 50  # the whole burst, and not one token more
    assert admitted >= 50 - 10  # at most half a batch plus a batch held back at the end


def test_each_batch_lapses_hold_s_after_it_was_taken_even_when_a_newer_one_came(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=10, hold_s=1.0)
        try:
            await limiter.check("c", SimpleNamespace())  # batch A: holds 9, lapses at t0 + 1 s
            await asyncio.sleep(0.5)
            for _ in range(4):
                assert limiter.take_held("c")  # 5 of A left: batch B (10) is taken ahead at t0 + 0.5 s
            await _refilled(limiter)
            await asyncio.sleep(0.6)  # A has lapsed, B has not
            left = 0
            while limiter.take_held("c"):
                left += 1
                if left == 10:
                    break
            await _refilled(limiter)
            return left, sum(b[1] for b in limiter.held.get("c") or ())
        finally:
            await limiter.cache.client.aclose()
    left, after = asyncio.run(go())
    assert left == 10  # B's 10 (one top-up, C, came when B fell to half); A's 5 are gone
    assert after == 10  # C


def test_requests_that_find_a_batch_in_flight_wait_for_it_instead_of_taking_a_token_each(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=10)
        try:
            results = await asyncio.gather(*(limiter.check("c", SimpleNamespace()) for _ in range(4)))
            tokens = _bucket_tokens(r)
            await _refilled(limiter)
            return results, tokens
        finally:
            await limiter.cache.client.aclose()
    results, tokens = asyncio.run(go())
    assert all(wait is None for wait, _ in results)
    assert round(tokens) == 90  # one round trip for the four of them; 6 left, so no top-up yet


def test_a_top_up_that_redis_fails_counts_no_request_and_leaves_nothing_in_flight(redis, r):
    async def go():
        limiter = _limiter(f"redis://127.0.0.1:{free_port()}", rate=0.001, burst=100, batch=10)
        try:
            limiter._hold("c", 3, time.monotonic())
            before = _degraded()
            assert limiter.take_held("c")  # 2 left: a top-up, which fails
            await _refilled(limiter)
            return (_degraded() - before, limiter.cache.breaker.failures, limiter.fetching,
                    limiter.cache.last_error)
        finally:
            await limiter.cache.client.aclose()
    assert asyncio.run(go()) == (0, 1, {}, "ConnectionError")


def test_no_top_up_while_the_breaker_keeps_redis_out(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=10)
        try:
            limiter._hold("c", 3, time.monotonic())
            assert limiter.take_held("c")  # 2 left: a top-up is due; the breaker opens before it runs
            for _ in range(limiter.cache.breaker.threshold):
                limiter.cache.breaker.failure()
            await _refilled(limiter)
            return r.keys("ratelimit:*"), sum(b[1] for b in limiter.held.get("c"))
        finally:
            await limiter.cache.client.aclose()
    assert asyncio.run(go()) == ([], 2)


def test_held_tokens_are_not_spent_while_the_breaker_keeps_redis_out(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=10)
        try:
            await limiter.check("c", SimpleNamespace())  # holds 9
            for _ in range(limiter.cache.breaker.threshold):
                limiter.cache.breaker.failure()
            before = REGISTRY.get_sample_value("rate_limit_fail_open_total") or 0.0
            wait, values = await limiter.check("c", SimpleNamespace())
            return (limiter.take_held("c"), wait, values,
                    (REGISTRY.get_sample_value("rate_limit_fail_open_total") or 0.0) - before,
                    sum(b[1] for b in limiter.held.get("c")))
        finally:
            await limiter.cache.client.aclose()
    assert asyncio.run(go()) == (False, None, None, 1.0, 9)


def test_by_default_a_request_takes_one_token_and_holds_none(redis, r):
    async def go():
        s = Settings(environment="development", database_url="postgresql://u:p@127.0.0.1:1/db",
                     redis_url=[redis.url], api_keys=["k" * 16])
        limiter = RateLimiter(Cache(s, make_client(s)), rate=0.001, burst=100)
        try:
            await limiter.check("c", SimpleNamespace())
            return _bucket_tokens(r), limiter.take_held("c")
        finally:
            await limiter.cache.client.aclose()
    tokens, held = asyncio.run(go())
    assert round(tokens) == 99 and held is False


def test_a_batch_of_two_holds_its_one_spare_token(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=2)
        try:
            await limiter.check("c", SimpleNamespace())
            after_first = _bucket_tokens(r)
            await limiter.check("c", SimpleNamespace())  # the spare token; the next batch is then due
            after_second = _bucket_tokens(r)
            await _refilled(limiter)
            return after_first, after_second, _bucket_tokens(r), limiter.fetching
        finally:
            await limiter.cache.client.aclose()
    first, second, topped_up, fetching = asyncio.run(go())
    assert (round(first), round(second), round(topped_up), fetching) == (98, 98, 96, {})


def test_two_concurrent_requests_with_a_batch_of_two_share_it(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=2)
        try:
            results = await asyncio.gather(*(limiter.check("c", SimpleNamespace(), ("event:x",)) for _ in range(2)))
            tokens = _bucket_tokens(r)
            await _refilled(limiter)
            return results, tokens, limiter.fetching
        finally:
            await limiter.cache.client.aclose()
    r.set("event:x", b"body")
    results, tokens, fetching = asyncio.run(go())
    assert results == [(None, [b"body"])] * 2  # the waiter still reads the cache
    assert round(tokens) == 98 and fetching == {}


def test_a_held_token_still_checks_the_search_page(redis, r):
    from app import search_pages

    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=10)
        key = search_pages.PREFIX + ":page:p"
        try:
            first = await limiter.check("c", SimpleNamespace(), search=key)  # token and page in one script
            r.hset(search_pages.WRITES_KEY, "seq", 7)
            second = await limiter.check("c", SimpleNamespace(), search=key)  # held token: the page check alone
            return first, second, _bucket_tokens(r)
        finally:
            await limiter.cache.client.aclose()
    first, second, tokens = asyncio.run(go())
    assert first == (None, [0, b"0"]) and second == (None, [0, b"7"])  # a miss, at the current seq
    assert round(tokens) == 90


def test_a_held_token_whose_read_fails_counts_the_request_as_degraded(redis, r):
    async def go():
        limiter = _limiter(f"redis://127.0.0.1:{free_port()}", rate=0.001, burst=100, batch=10)
        state = SimpleNamespace()
        try:
            limiter._hold("c", 9, time.monotonic())
            got = await limiter.check("c", state, ("event:x",))
            return got, state.degraded_redis, limiter.cache.last_error
        finally:
            await limiter.cache.client.aclose()
    assert asyncio.run(go()) == ((None, None), True, "ConnectionError")


def test_a_held_token_without_reads_leaves_the_breaker_alone(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=10)
        try:
            limiter._hold("c", 9, time.monotonic())
            limiter.cache.breaker.failure()  # one failure in a row, still closed
            await limiter.check("c", SimpleNamespace())
            return limiter.cache.breaker.failures
        finally:
            await limiter.cache.client.aclose()
    assert asyncio.run(go()) == 1  # no Redis call was made, so none succeeded to reset it


def test_a_batch_asked_for_longer_ago_than_the_hold_time_is_not_spent(redis, r):
    async def go():
        limiter = _limiter(redis.url, rate=0.001, burst=100, batch=10, hold_s=1.0)
        try:
            limiter._hold("c", 3, time.monotonic() - 1.5)  # its entry is fresh, the batch is not
            return limiter.take_held("c")
        finally:
            await limiter.cache.client.aclose()
    assert asyncio.run(go()) is False
