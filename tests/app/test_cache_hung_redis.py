"""A write while Redis hangs and the breaker is open: it does not wait for Redis, and the search
invalidation it owes (its mark in the write log) still reaches Redis once Redis answers again."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from app import search_pages
from app.cache import Cache, make_client
from loadline.services import start_redis, stop_all
from tests.app.conftest import make_settings

# Far longer than the bound below: a write that waited for the hung Redis could not pass.
REDIS_TIMEOUT_S = 60
WRITE_BOUND_S = 10


@pytest.fixture
def hung_redis(tmp_path):
    server = start_redis(tmp_path / "redis")
    try:
        yield server
    finally:
        if server.running:
            os.kill(server.proc.pid, signal.SIGCONT)
        server.stop()
        stop_all(tmp_path / "redis")


def test_write_with_the_breaker_open_does_not_wait_for_a_hung_redis(hung_redis):
    settings = make_settings("postgresql://u:p@127.0.0.1:1/db", [hung_redis.url], redis_timeout_seconds=REDIS_TIMEOUT_S,
                             redis_breaker_threshold=1, redis_breaker_base_seconds=60, redis_breaker_max_seconds=60)

    async def scenario() -> tuple[int, int, bool]:
        client = make_client(settings)
        try:
            cache = Cache(settings, client)
            before = int(await client.hget(search_pages.WRITES_KEY, "seq") or 0)
            cache.breaker.failure()  # a failure like any other opens it (threshold 1)
            assert cache.breaker.name == "open"
            os.kill(hung_redis.proc.pid, signal.SIGSTOP)
            state = SimpleNamespace()
            await asyncio.wait_for(cache.invalidate_search(datetime(2035, 1, 1, tzinfo=UTC), state), WRITE_BOUND_S)
            os.kill(hung_redis.proc.pid, signal.SIGCONT)
            await asyncio.wait_for(asyncio.gather(*cache._background), WRITE_BOUND_S)
            return before, int(await client.hget(search_pages.WRITES_KEY, "seq") or 0), getattr(state, "degraded_redis", False)
        finally:
            await client.aclose()

    before, after, degraded = asyncio.run(scenario())
    assert after == before + 1  # the mark was made, late, not dropped
    assert not degraded
