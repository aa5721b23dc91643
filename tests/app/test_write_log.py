"""The search write log keeps the recently marked hours and days only (real Redis, standalone and cluster)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from app.search_pages import MARKED_AT_KEY, PRUNE_BATCH, WRITES_KEY, write_args
from tests.app.test_cache_unit import _cache, _run

EARLY = datetime(2034, 1, 1, 0, 30, tzinfo=UTC)
MID = datetime(2034, 3, 1, 0, 30, tzinfo=UTC)
LATE = datetime(2034, 6, 1, 0, 30, tzinfo=UTC)


def _fields(when: datetime) -> set[bytes]:
    hour, day = write_args(when)
    return {f"h{hour}".encode(), f"d{day}".encode()}


@pytest.fixture(params=["standalone", "cluster"])
def url_and_mode(request) -> tuple[str, str]:
    server = request.getfixturevalue("redis" if request.param == "standalone" else "redis_cluster")
    return server.url, request.param


def _writes(url: str, mode: str, batches: list[tuple[float, list[datetime]]], keep_s: int):
    """Mark each batch of start times after its pause; the log's fields and its marked ones after each."""
    async def go():
        cache = _cache(url, redis_mode=mode)
        cache.mark_keep_s = keep_s
        try:
            await cache.client.delete(WRITES_KEY, MARKED_AT_KEY)
            seen = []
            for pause_s, batch in batches:
                await asyncio.sleep(pause_s)
                for when in batch:
                    await cache.invalidate_search(when, SimpleNamespace())
                seen.append((set(await cache.client.hkeys(WRITES_KEY)),
                             set(await cache.client.zrange(MARKED_AT_KEY, 0, -1))))
            return seen
        finally:
            await cache.client.delete(WRITES_KEY, MARKED_AT_KEY)
            await cache.client.aclose()
    return _run(go())


def test_a_write_drops_the_marks_older_than_the_keep_and_keeps_the_rest(url_and_mode):
    # Redis' clock counts whole seconds: marks are dropped once 2 of them have passed, so 0 s
    # apart is always kept and 3.2 s apart always dropped, whatever the rounding.
    (_, first), (_, both), (log, marked) = _writes(*url_and_mode, [(0, [EARLY]), (0, [MID]), (3.2, [LATE])],
                                                   keep_s=2)
    assert first == _fields(EARLY)
    assert both == _fields(EARLY) | _fields(MID)
    assert log == {b"seq", b"all"} | _fields(LATE)
    assert marked == _fields(LATE)


def test_a_backlog_of_old_marks_drains_a_batch_per_write(redis):
    # 70 hours over 3 days: 73 fields, more than one batch, marked well within the 3 s keep.
    old = [EARLY + timedelta(hours=h) for h in range(70)]
    old_fields = set().union(*(_fields(w) for w in old))
    assert len(old_fields) > PRUNE_BATCH
    seen = _writes(redis.url, "standalone", [(0, old), (4.2, [LATE]), (0, [LATE])], keep_s=3)
    assert seen[0][1] == old_fields
    (_, after_one), (_, after_two) = seen[1], seen[2]
    assert after_one == (after_one & old_fields) | _fields(LATE)
    assert len(after_one & old_fields) == len(old_fields) - 64  # the batch docs/service.md names
    assert after_two == _fields(LATE)
