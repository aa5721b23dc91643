"""A Redis connection whose transport is torn down under the client, on the service's own event loop.

After a whole-cluster restart, redis-py's cluster client can still hold pooled connections whose
transport is gone. On uvloop, writing to one raises RuntimeError ("unable to perform operation on
<TCPTransport closed=True>"), which is neither a RedisError nor a RedisClusterException; it used to
escape the rate limiter and answer 500. Here the transports of the client's own pooled connections
are closed for real (the servers stay up, so the session's cluster is untouched), and every cache
path must fail open, count it, and then use Redis again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import uvloop
from prometheus_client import REGISTRY

from app.cache import Cache, make_client
from app.ratelimit import RateLimiter
from app.settings import Settings


def _fail_open_count() -> float:
    return REGISTRY.get_sample_value("rate_limit_fail_open_total") or 0.0


def _cache(urls: list[str]) -> Cache:
    s = Settings(environment="development", database_url="postgresql://u:p@127.0.0.1:1/db",
                 redis_url=urls, redis_mode="cluster", api_keys=["k" * 16],
                 redis_breaker_threshold=100, redis_breaker_base_seconds=60, redis_breaker_max_seconds=60)
    return Cache(s, make_client(s))


def _tear_down_transports(cache: Cache) -> int:
    closed = 0
    for node in cache.client.get_nodes():
        for conn in node._free:
            if conn._writer is not None:
                conn._writer.transport.close()
                closed += 1
    return closed


def test_a_torn_down_transport_fails_open_and_redis_is_used_again(redis_cluster):
    urls = [n.url for n in redis_cluster.nodes]

    async def go():
        cache = _cache(urls)
        limiter = RateLimiter(cache, rate=1000, burst=1000)
        try:
            assert await limiter.check("client", SimpleNamespace(), ("x",)) == (None, [None])
            assert _tear_down_transports(cache) > 0

            before = _fail_open_count()
            state = SimpleNamespace()
            wait, values = await limiter.check("client", state, ("x",))
            assert (wait, values) == (None, None), "the limiter must fail open, not raise"
            assert _fail_open_count() == before + 1
            assert state.degraded_redis is True
            assert cache.last_error == "RuntimeError"

            _tear_down_transports(cache)
            await cache.put_event("e1", b"body", SimpleNamespace())  # must not raise
            _tear_down_transports(cache)
            await cache.invalidate_search(datetime(2030, 1, 1, tzinfo=UTC), SimpleNamespace())  # must not raise
            _tear_down_transports(cache)
            assert await cache.ping() in (None, "RuntimeError")  # answered, never raised

            # The broken connections are dropped, so Redis answers again on the next calls.
            for _ in range(5):
                if (await limiter.check("client", SimpleNamespace(), ("x",)))[1] is not None:
                    break
            else:
                raise AssertionError("Redis was never used again after the torn-down transports")
            assert await cache.ping() is None
        finally:
            await cache.client.aclose()

    uvloop.run(go())
