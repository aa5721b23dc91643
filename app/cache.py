"""Redis, standalone or cluster, and the cache-aside helpers on top of it.

Redis is never required for a correct answer: every call here swallows a Redis
failure of any kind (REDIS_FAILURES), counts the request as degraded once, and
reports a miss. A circuit breaker (app/breaker.py) decides whether Redis is tried
at all, so an outage costs a few timeouts, not one per request.

Two tiers: each worker's in-process L1 (app/l1.py) in front of Redis (L2). A write
invalidates only the search pages it can change (app/search_pages.py), in Redis and, by
pub/sub, in every worker's L1 (app/invalidation.py). A page and its freshness check are
read in the same Redis round trip that takes the request's rate-limit token (app/ratelimit.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime
from typing import cast
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app import search_pages
from app.breaker import CLOSED, Breaker
from app.invalidation import CHANNEL
from app.l1 import L1, Span
from app.metrics import (
    CACHE_HIT,
    CACHE_MISS,
    DEGRADED_REQUESTS,
    L1_HIT,
    L1_MISS,
    REDIS_BREAKER_STATE,
    REDIS_BREAKER_TRIPS,
)
from app.settings import Settings

log = logging.getLogger("app.cache")
# Any exception a Redis call raises is a Redis failure, because the cache is optional and must never
# fail a request. Redis's own errors are only part of it: the cluster client's (no reachable node,
# uncovered slot) are RedisClusterException, not a RedisError; and a transport torn down while the
# cluster client reconnects surfaces as RuntimeError (uvloop: "unable to perform operation on
# <TCPTransport closed=True>") or AttributeError (a writer already cleared). Each is logged with its
# type, so a real bug still shows. CancelledError is a BaseException and still propagates.
REDIS_FAILURES: tuple[type[Exception], ...] = (Exception,)


def make_client(settings: Settings) -> Redis | RedisCluster:
    timeout = settings.redis_timeout_seconds
    if settings.redis_mode == "cluster":
        # Settings refuse a Redis URL without a host.
        nodes = [ClusterNode(cast(str, urlsplit(u).hostname), urlsplit(u).port or 6379) for u in settings.redis_url]
        # Redirects (MOVED/ASK) are followed by the client; after a failover it refreshes the slot map.
        # No retries: redis-py's cluster client retries a failed command up to 10 times, and each retry
        # of a pipeline closes every connection of the shared client (failing the other requests'
        # commands in flight) and sleeps 0.25 s; a dead master then costs each request seconds. A
        # failed call is a cache miss here, the next call reloads the slot map (Cache.failed), and
        # the breaker decides when to try again.
        # max_connections per node as the standalone pool's: redis-py's cluster default (100) raises
        # MaxConnectionsError at once rather than wait, so a burst of slow requests tripped the breaker.
        return RedisCluster(startup_nodes=nodes, socket_timeout=timeout, socket_connect_timeout=timeout,
                            require_full_coverage=False, retry=Retry(NoBackoff(), 0), max_connections=256)
    return Redis.from_url(settings.redis_url[0], socket_timeout=timeout, socket_connect_timeout=timeout,
                          max_connections=256)


class Cache:
    def __init__(self, settings: Settings, client: Redis | RedisCluster):
        self.client = client
        self.event_ttl = settings.cache_event_ttl_seconds
        self.search_ttl = settings.cache_search_ttl_seconds
        # A search stores its page at most this long after reading its seq: two attempts, each
        # a pool checkout and a query under the database timeout. The margin covers event-loop
        # stalls; a mark kept this long past the search TTL outlives every page it can make stale.
        self.mark_keep_s = math.ceil(self.search_ttl + 4 * settings.db_timeout_seconds + 60)
        self.l1 = L1(size=settings.cache_l1_size, ttl_s=settings.cache_l1_ttl_seconds)
        self.breaker = Breaker(threshold=settings.redis_breaker_threshold,
                               base_s=settings.redis_breaker_base_seconds,
                               cap_s=settings.redis_breaker_max_seconds,
                               on_state=REDIS_BREAKER_STATE.set, on_trip=self._tripped)
        self.last_error: str | None = None
        self.write_script = client.register_script(search_pages.WRITE)
        self._background: set[asyncio.Task] = set()  # held: the loop keeps only weak references

    def available(self, request_state) -> bool:
        """Whether to try Redis for this call; a skipped call counts the request as degraded."""
        if self.breaker.allow():
            return True
        mark_degraded(request_state)
        return False

    def succeeded(self) -> None:
        self.breaker.success()

    def failed(self, exc: BaseException, request_state) -> None:
        self.breaker.failure()
        self._reload_slots()
        mark_degraded(request_state)
        self.last_error = type(exc).__name__
        log.warning("redis unavailable", extra={"error": f"{type(exc).__name__}: {exc}",
                                                "breaker": self.breaker.name})

    def _reload_slots(self) -> None:
        """After a failed call, have the cluster client reload its slot map before its next command.

        redis-py does that itself after a failed single command, not after a failed pipeline;
        without retries (make_client) every pipeline would then keep going to a dead master after
        its failover. The reload keeps the pools of the nodes that stay, so requests in flight on
        them are undisturbed. `_initialize` is the client's own flag for it; if an upgrade of
        redis-py dropped it, tests/app/test_cache_cluster.py fails."""
        if isinstance(self.client, RedisCluster):
            self.client._initialize = True

    def _tripped(self) -> None:
        REDIS_BREAKER_TRIPS.inc()
        log.warning("redis circuit breaker open", extra={
            "retry_in_s": round(self.breaker.retry_in_s(), 3),
            "trips_in_a_row": self.breaker.trips})

    def l1_get(self, key: object) -> bytes | None:
        """The L1 entry (an encoded body), counted as an L1 hit or miss."""
        body = self.l1.get(key)
        (L1_HIT if body is not None else L1_MISS).inc()
        return body

    def event_key(self, event_id: str) -> str:
        return f"event:{event_id}"

    def event_hit(self, values: list | None) -> bytes | None:
        """The result of reading event_key(); None on a miss or when Redis failed."""
        if values is None:
            return None
        (CACHE_HIT if values[0] is not None else CACHE_MISS).inc()
        return values[0]

    async def put_event(self, event_id: str, body: bytes, state) -> None:
        if not self.available(state):
            return
        try:
            await self.client.set(self.event_key(event_id), body, ex=self.event_ttl)
        except REDIS_FAILURES as exc:
            self.failed(exc, state)
        else:
            self.succeeded()

    def search_hit(self, values: list | None) -> tuple[bytes | None, Span | None, int | None]:
        """From search_pages.READ's answer: (page, its span) on a hit, else the write seq to store
        a page under (None when Redis failed)."""
        if values is None:
            return None, None, None
        found, value = values
        if int(found) == 1:
            CACHE_HIT.inc()
            return *search_pages.parse(value), None
        CACHE_MISS.inc()
        return None, None, int(value)

    async def put_search(self, key: str, seq: int, span: Span, page: bytes, state) -> None:
        if not self.available(state):
            return
        try:
            await self.client.set(key, search_pages.stored(seq, *span, page), ex=self.search_ttl)
        except REDIS_FAILURES as exc:
            self.failed(exc, state)
        else:
            self.succeeded()

    async def invalidate_search(self, starts_at: datetime, state) -> None:
        """Mark the hour and day a new event starts in, so the pages that cover it become stale:
        in this worker's L1 at once, in Redis, and (published) in every other worker's L1."""
        hour, day = search_pages.write_args(starts_at)
        self.l1.invalidate(hour, day)
        # Tried even while the breaker is open: a missed mark would leave stale pages until their
        # TTL once Redis is back. Its outcome does not move the breaker, which only probes in turn.
        # While the breaker is open Redis is probably gone or hung, so the write does not wait for
        # the mark: it runs in the background (a hung Redis would otherwise hold every write for
        # a timeout and a slot-map reload).
        if self.breaker.state == CLOSED:
            await self._mark_write(starts_at, state)
            return
        task = asyncio.get_running_loop().create_task(self._mark_write(starts_at, state))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _mark_write(self, starts_at: datetime, state) -> None:
        hour, day = search_pages.write_args(starts_at)
        try:
            await self.write_script(keys=[search_pages.WRITES_KEY, search_pages.MARKED_AT_KEY],
                                    args=[hour, day, CHANNEL, self.mark_keep_s])
        except REDIS_FAILURES as exc:
            if self.breaker.state == CLOSED:
                self.breaker.failure()
            mark_degraded(state)
            self.last_error = type(exc).__name__
            log.warning("redis unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})

    async def ping(self) -> str | None:
        """None when Redis answers; else why not ("breaker open" while the breaker skips Redis).

        /readyz calls it: while the breaker is open this costs nothing, and once the retry
        time has come the readiness probe serves as the breaker's half-open probe."""
        if not self.breaker.allow():
            return f"breaker {self.breaker.name}" + (f" after {self.last_error}" if self.last_error else "")
        try:
            await self.client.ping()
        except REDIS_FAILURES as exc:
            self.breaker.failure()
            self.last_error = type(exc).__name__
            return self.last_error
        self.breaker.success()
        return None


def mark_degraded(state) -> None:
    """Count a request as degraded by Redis once, however many cache calls it made."""
    if not getattr(state, "degraded_redis", False):
        state.degraded_redis = True
        DEGRADED_REQUESTS.labels(dependency="redis").inc()
