"""Token bucket per client, held in Redis and updated atomically by one Lua script.

Each client (its API key, else its address) has a bucket of `burst` tokens
refilled at `rate` per second. A request takes one token; an empty bucket
answers 429 with Retry-After = seconds until the next token. When Redis is
down (or its circuit breaker open) the limiter lets requests through, counted in
rate_limit_fail_open_total and as degraded: refusing all traffic because the cache
is gone would turn a cache outage into an outage.
"""

from __future__ import annotations

import hashlib
import math

from redis.asyncio.cluster import RedisCluster

from app import search_pages
from app.cache import REDIS_FAILURES, Cache
from app.metrics import RATE_LIMIT_FAIL_OPEN, RATE_LIMITED

# KEYS[1] bucket, KEYS[2..n] keys to read in the same call; ARGV: rate/s, burst.
# Returns {allowed 0|1, seconds until a token, value of KEYS[2], ...} (a missing key is nil).
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
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
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


class RateLimiter:
    """One Redis round trip per request: the bucket update carries the request's cache reads.

    Standalone: one EVAL that also GETs the keys. Cluster: the keys live in other slots
    (a script may only touch its own), so the EVAL and the GETs go as one pipeline.
    """

    def __init__(self, cache: Cache, *, rate: float, burst: int):
        self.cache = cache
        self.rate, self.burst = rate, burst
        self.script = cache.client.register_script(TOKEN_BUCKET)
        self.search_script = cache.client.register_script(TOKEN_BUCKET_AND_SEARCH)
        self.clustered = isinstance(cache.client, RedisCluster)

    async def check(self, client_id: str, state, reads: tuple[str, ...] = (),
                    search: str | None = None) -> tuple[float | None, list | None]:
        """(seconds to wait or None when allowed, values of `reads` or None when Redis failed).

        `search`: a search page key; its check (search_pages.READ) answers two more values."""
        if not self.cache.available(state):
            RATE_LIMIT_FAIL_OPEN.inc()
            return None, None
        key = "ratelimit:" + hashlib.blake2b(client_id.encode(), digest_size=12).hexdigest()
        args = [self.rate, self.burst]
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
        if int(allowed) == 1:
            return None, values
        RATE_LIMITED.inc()
        return max(float(wait), 0.001), values


def retry_after(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
