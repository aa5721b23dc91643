"""Token bucket per client, held in Redis and updated atomically by one Lua script.

Each client (its API key, else its address) has a bucket of `burst` tokens
refilled at `rate` per second. A request takes one token; an empty bucket
answers 429 with Retry-After = seconds until the next token.

A worker may take up to `batch` tokens at once and hold the ones it did not use for at
most HOLD_S, so a request that finds a held token costs no Redis round trip (an L1 hit
then costs none at all). Every admitted request still spends a token taken from the
bucket, so over any interval a client is admitted at most burst + rate x (interval +
HOLD_S); a held token can only be spent later than it was taken, never twice. The price:
while one worker holds tokens another may refuse, so a client can be refused with up to
(workers - 1) x 2 x batch tokens held elsewhere, and tokens still held after HOLD_S are lost
(each batch lapses HOLD_S after it was asked for, whatever batches came after it).
A worker tops its tokens up ahead: once a spend leaves half a batch or less, the next batch is
taken in the background, so a steady stream of requests finds a held token and never waits for
Redis for one. Only one batch per client is in flight in a worker; a request that finds no held
token while one is in flight waits for it (once) instead of a round trip of its own.
`batch_for(rate, burst)` keeps both small: at most 2% of a second's rate and 5% of the burst. When Redis is
down (or its circuit breaker open) the limiter lets requests through, counted in
rate_limit_fail_open_total and as degraded: refusing all traffic because the cache
is gone would turn a cache outage into an outage.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import deque
from types import SimpleNamespace

from cachetools import TTLCache
from redis.asyncio.cluster import RedisCluster

from app import search_pages
from app.breaker import CLOSED
from app.cache import REDIS_FAILURES, Cache
from app.metrics import RATE_LIMIT_FAIL_OPEN, RATE_LIMITED

# KEYS[1] bucket, KEYS[2..n] keys to read in the same call; ARGV: rate/s, burst, and tokens
# wanted (default 1). Returns {tokens granted (0 refused; at most the whole tokens left),
# seconds until a token, value of KEYS[2], ...} (a missing key is nil).
# The clock is Redis's own (TIME; Redis 7 replicates a script's effects, not the script):
# every replica of the service then shares one clock, whatever their skew.
TOKEN_BUCKET_CORE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local want = tonumber(ARGV[3]) or 1
local allowed = 0
local wait = 0
if tokens >= 1 then
  allowed = math.min(want, math.floor(tokens))
  tokens = tokens - allowed
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 't', tokens, 'ts', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
local out = {allowed, tostring(wait)}
"""
TOKEN_BUCKET = TOKEN_BUCKET_CORE + """
for i = 2, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) end
return out
"""
# KEYS[1] bucket, KEYS[2] search page, KEYS[3] search write log (app/search_pages.py):
# {allowed, wait, found 0|1, page body or current seq}.
TOKEN_BUCKET_AND_SEARCH = search_pages.READ_FUNCTION + TOKEN_BUCKET_CORE + """
local s = search_read(KEYS[2], KEYS[3])
out[3] = s[1]
out[4] = s[2]
return out
"""


HOLD_S = 1.0
MAX_BATCH = 64
MAX_HELD_CLIENTS = 10000
# A background top-up serves no request: nothing to count as degraded when Redis fails it.
_NO_REQUEST = SimpleNamespace(degraded_redis=True)


def batch_for(rate: float, burst: int) -> int:
    """Tokens a worker takes at once: 2% of a second's rate and 5% of the burst at most."""
    return max(1, min(MAX_BATCH, int(rate * 0.02), burst // 20))


class RateLimiter:
    """At most one Redis round trip per request: the bucket update carries the request's cache reads.

    Standalone: one EVAL that also GETs the keys. Cluster: the keys live in other slots
    (a script may only touch its own), so the EVAL and the GETs go as one pipeline.
    A request that spends a held token (see the module's docstring) only reads.
    """

    def __init__(self, cache: Cache, *, rate: float, burst: int, batch: int = 1, hold_s: float = HOLD_S):
        self.cache = cache
        self.rate, self.burst, self.batch = rate, burst, batch
        self.script = cache.client.register_script(TOKEN_BUCKET)
        self.search_script = cache.client.register_script(TOKEN_BUCKET_AND_SEARCH)
        self.read_script = cache.client.register_script(search_pages.READ)
        self.clustered = isinstance(cache.client, RedisCluster)
        self.hold_s = hold_s
        # client id -> its batches, oldest first, each [lapses at (monotonic), tokens left]. The entry
        # lapses hold_s after its newest batch arrived, by then every batch in it has lapsed.
        self.held: TTLCache[str, deque[list]] = TTLCache(maxsize=MAX_HELD_CLIENTS, ttl=hold_s, timer=time.monotonic)
        # client id -> set once the batch in flight for it has arrived (or failed).
        self.fetching: dict[str, asyncio.Event] = {}
        self._refills: set[asyncio.Task] = set()  # held: the loop keeps only weak references

    def take_held(self, client_id: str) -> bool:
        """Spend a token this worker holds for the client (oldest batch first); False when it holds none.

        A spend that leaves half a batch or less starts the next batch in the background."""
        batches = self.held.get(client_id)
        # While the breaker keeps Redis out, every request is let through unchecked and counted so,
        # tokens held or not: the count is what tells an outage's unlimited traffic.
        if not batches or self.cache.breaker.state != CLOSED:
            return False
        now = time.monotonic()
        while batches and batches[0][0] <= now:
            batches.popleft()
        if not batches:
            return False
        oldest = batches[0]
        oldest[1] -= 1
        if oldest[1] <= 0:
            batches.popleft()
        if client_id not in self.fetching and sum(b[1] for b in batches) <= self.batch // 2:
            self._refill(client_id)
        return True

    def _hold(self, client_id: str, tokens: int, asked_at: float) -> None:
        if tokens <= 0:
            return
        batches = self.held.get(client_id)
        if batches is None:
            batches = deque()
        batches.append([asked_at + self.hold_s, tokens])
        self.held[client_id] = batches  # re-set: the entry now lives as long as its newest batch

    def _refill(self, client_id: str) -> None:
        self.fetching[client_id] = asyncio.Event()
        task = asyncio.get_running_loop().create_task(self._refill_batch(client_id))
        self._refills.add(task)
        task.add_done_callback(self._refills.discard)

    async def _refill_batch(self, client_id: str) -> None:
        """Take the next batch for the client; refused, failed or skipped, it just holds nothing more."""
        try:
            if not self.cache.breaker.allow():
                return
            asked_at = time.monotonic()
            try:
                granted, _wait = await self.script(keys=[bucket_key(client_id)],
                                                   args=[self.rate, self.burst, self.batch])
            except REDIS_FAILURES as exc:
                self.cache.failed(exc, _NO_REQUEST)
                return
            self.cache.succeeded()
            self._hold(client_id, int(granted), asked_at)
        finally:
            self.fetching.pop(client_id).set()

    async def _reads(self, state, reads: tuple[str, ...], search: str | None) -> list | None:
        # Only after take_held, which spends only while the breaker is closed: no need to ask it again.
        if not reads and search is None:
            return []
        try:
            if search is not None:
                values = list(await self.read_script(keys=[search, search_pages.WRITES_KEY]))
            else:
                values = [await self.cache.client.get(read) for read in reads]
        except REDIS_FAILURES as exc:
            self.cache.failed(exc, state)
            return None
        self.cache.succeeded()
        return values

    async def check(self, client_id: str, state, reads: tuple[str, ...] = (),
                    search: str | None = None) -> tuple[float | None, list | None]:
        """(seconds to wait or None when allowed, values of `reads` or None when Redis failed).

        `search`: a search page key; its check (search_pages.READ) answers two more values."""
        if self.batch > 1 and (self.take_held(client_id) or await self._arrived(client_id)):
            return None, await self._reads(state, reads, search)
        if not self.cache.available(state):
            RATE_LIMIT_FAIL_OPEN.inc()
            return None, None
        # One batch in flight per client: a request that still found no held token after waiting
        # for it takes one token, or concurrent requests would drain the bucket for unused tokens.
        fetch = self.batch > 1 and client_id not in self.fetching
        if fetch:
            self.fetching[client_id] = asyncio.Event()
        try:
            return await self._take(bucket_key(client_id), client_id, self.batch if fetch else 1, state, reads,
                                    search)
        finally:
            if fetch:
                self.fetching.pop(client_id).set()

    async def _arrived(self, client_id: str) -> bool:
        """Wait for the batch in flight for the client, if any, and spend one of its tokens."""
        arriving = self.fetching.get(client_id)
        if arriving is None:
            return False
        await arriving.wait()
        return self.take_held(client_id)

    async def _take(self, key: str, client_id: str, want: int, state, reads: tuple[str, ...],
                    search: str | None) -> tuple[float | None, list | None]:
        args = [self.rate, self.burst, want]
        asked_at = time.monotonic()
        try:
            if self.clustered:
                async with self.cache.client.pipeline(transaction=False) as pipe:
                    pipe.eval(TOKEN_BUCKET, 1, key, *args)  # EVAL: a pipeline never meets NOSCRIPT
                    for read in reads:
                        pipe.get(read)
                    if search is not None:
                        pipe.eval(search_pages.READ, 2, search, search_pages.WRITES_KEY)
                    (allowed, wait), *values = await pipe.execute()
                if search is not None:
                    values[-1:] = values[-1]
            elif search is not None:
                assert not reads, "a search check carries no other reads"
                allowed, wait, *values = await self.search_script(
                    keys=[key, search, search_pages.WRITES_KEY], args=args)
            else:
                allowed, wait, *values = await self.script(keys=[key, *reads], args=args)
        except REDIS_FAILURES as exc:
            self.cache.failed(exc, state)
            RATE_LIMIT_FAIL_OPEN.inc()
            return None, None
        self.cache.succeeded()
        granted = int(allowed)
        if granted >= 1:
            self._hold(client_id, granted - 1, asked_at)
            return None, values
        RATE_LIMITED.inc()
        return max(float(wait), 0.001), values


def bucket_key(client_id: str) -> str:
    return "ratelimit:" + hashlib.blake2b(client_id.encode(), digest_size=12).hexdigest()


def retry_after(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
