"""Redis, standalone or cluster, and the cache-aside helpers on top of it.

Redis is never required for a correct answer: every call here swallows a Redis
failure, counts the request as degraded once, and reports a miss. After a
failure Redis is skipped for a short while, so an outage costs one timeout,
not one per request.

Search results are invalidated by a generation number: each write bumps
`events:search:gen`, and a cached page stored under an older generation is a
miss. The generation and the page are read in the same Redis call that takes
the request's rate-limit token (app/ratelimit.py): one round trip per cached read.
"""

from __future__ import annotations

import hashlib
import logging
import time
from urllib.parse import urlsplit

import orjson
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisError

from app.metrics import CACHE_HIT, CACHE_MISS, DEGRADED_REQUESTS
from app.settings import Settings

log = logging.getLogger("app.cache")
SEARCH_GEN_KEY = "events:search:gen"


def make_client(settings: Settings) -> Redis | RedisCluster:
    timeout = settings.redis_timeout_seconds
    if settings.redis_mode == "cluster":
        nodes = [ClusterNode(urlsplit(u).hostname, urlsplit(u).port or 6379) for u in settings.redis_url]
        # Redirects (MOVED/ASK) are followed by the client; after a failover it refreshes the slot map.
        return RedisCluster(startup_nodes=nodes, socket_timeout=timeout, socket_connect_timeout=timeout,
                            require_full_coverage=False)
    return Redis.from_url(settings.redis_url[0], socket_timeout=timeout, socket_connect_timeout=timeout,
                          max_connections=256)


class Cache:
    def __init__(self, settings: Settings, client: Redis | RedisCluster):
        self.client = client
        self.ttl = settings.cache_ttl_seconds
        self.backoff = settings.redis_retry_after_failure_seconds
        self._skip_until = 0.0

    def available(self) -> bool:
        return time.monotonic() >= self._skip_until

    def failed(self, exc: BaseException, request_state) -> None:
        self._skip_until = time.monotonic() + self.backoff
        mark_degraded(request_state)
        log.warning("redis unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})

    def event_key(self, event_id: str) -> str:
        return f"event:{event_id}"

    def event_hit(self, values: list | None) -> bytes | None:
        """The result of reading event_key(); None on a miss or when Redis failed."""
        if values is None:
            return None
        (CACHE_HIT if values[0] is not None else CACHE_MISS).inc()
        return values[0]

    async def put_event(self, event_id: str, body: bytes, state) -> None:
        if not self.available():
            return
        try:
            await self.client.set(self.event_key(event_id), body, ex=self.ttl)
        except RedisError as exc:
            self.failed(exc, state)

    def search_hit(self, values: list | None) -> tuple[bytes | None, int | None]:
        """From the values of (SEARCH_GEN_KEY, search key): (page or None, generation or None)."""
        if values is None:
            return None, None
        gen_raw, stored = values
        gen = int(gen_raw or 0)
        if stored is not None:
            stored_gen, _, page = stored.partition(b"|")
            if stored_gen == str(gen).encode():
                CACHE_HIT.inc()
                return page, gen
        CACHE_MISS.inc()
        return None, gen

    async def put_search(self, key: str, gen: int, page: bytes, state) -> None:
        if not self.available():
            return
        try:
            await self.client.set(key, str(gen).encode() + b"|" + page, ex=self.ttl)
        except RedisError as exc:
            self.failed(exc, state)

    async def invalidate_search(self, state) -> None:
        # Tried even while backing off: a missed bump would leave stale pages until their TTL.
        try:
            await self.client.incr(SEARCH_GEN_KEY)
        except RedisError as exc:
            self.failed(exc, state)

    async def ping(self) -> str | None:
        try:
            await self.client.ping()
            return None
        except RedisError as exc:
            return f"{type(exc).__name__}"


def search_key(query: list[tuple[str, str]]) -> str:
    """Keyed by the raw, sorted query: a hit skips even parameter parsing. Only a query that
    passed validation is ever stored, so a hit is always for a valid query."""
    return "events:search:" + hashlib.blake2b(orjson.dumps(sorted(query)), digest_size=12).hexdigest()


def mark_degraded(state) -> None:
    """Count a request as degraded by Redis once, however many cache calls it made."""
    if not getattr(state, "degraded_redis", False):
        state.degraded_redis = True
        DEGRADED_REQUESTS.labels(dependency="redis").inc()
