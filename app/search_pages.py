"""Which cached search pages a write can change, and how Redis tells a fresh page from a stale one.

A search page holds the events starting in one time range: from the window's start (or the
cursor) to its last item when the page is full, or to the window's end when it is not. A new
event changes a page only if it starts inside that range; any other page stays valid.

Redis keeps a write log in one hash: `seq` counts writes, and each hour, each day and `all`
hold the `seq` of the last write that started in them. A page is stored with the `seq` read
before its query and the buckets its range covers (hours for a range of up to two days, days
up to MAX_DAYS, else `all`); it is fresh while none of those buckets holds a newer `seq`. A
write that commits after the reader took its `seq` marks a bucket above it, so a page that
could have missed that write is never served; a write before it is in the page's query.

A mark matters only to pages stored with an older `seq`, and those have all expired once the
mark is older than the search TTL plus the time a search takes from reading its `seq` to
storing its page (its database timeouts). The write script therefore also records when each
hour and day was last marked (a sorted set) and drops the marks older than that, so the log
holds the recently written buckets, not one field for every hour events were ever created in.

The page check runs in Redis (one script: the page, its buckets, and the `seq` for a miss),
so a read costs one round trip. In a cluster the pages and the log share one hash slot
(`{events:search}`), which a script needs: that slot's shard serves every search the L1
tier misses.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import orjson

PREFIX = "{events:search}"
WRITES_KEY = f"{PREFIX}:writes"
# When each hour and day field of WRITES_KEY was last marked (score: Redis' clock, seconds).
MARKED_AT_KEY = f"{PREFIX}:writes:at"
# Marks dropped per write at most: a backlog (after a long quiet spell) drains over a few writes.
PRUNE_BATCH = 64
HOUR, DAY = 3600, 86400
MAX_HOURS = 48
MAX_DAYS = 400

# KEYS[1] page, KEYS[2] write log. Returns {1, stored page} when fresh, else {0, current seq}.
# The page is "<seq> <level> <first bucket> <last bucket>|<body>".
READ_FUNCTION = """
local function search_read(page_key, log_key)
  local page = redis.call('GET', page_key)
  if page then
    local sep = string.find(page, '|', 1, true)
    local seq, level, lo, hi = string.match(string.sub(page, 1, sep - 1), '^(%d+) (%a+) (%-?%d+) (%-?%d+)$')
    seq = tonumber(seq)
    local fields = {}
    if level == 'all' then
      fields[1] = 'all'
    else
      for b = tonumber(lo), tonumber(hi) do fields[#fields + 1] = level .. b end
    end
    local marks = redis.call('HMGET', log_key, unpack(fields))
    local fresh = true
    for i = 1, #marks do
      if marks[i] and tonumber(marks[i]) > seq then fresh = false; break end
    end
    if fresh then return {1, page} end
  end
  return {0, redis.call('HGET', log_key, 'seq') or '0'}
end
"""
READ = READ_FUNCTION + "return search_read(KEYS[1], KEYS[2])\n"

# KEYS[1] write log, KEYS[2] when its marks were set; ARGV: hour, day of the new event's start,
# the pub/sub channel of every worker's L1 (app/invalidation.py), the seconds a mark is kept.
# Returns the write's seq.
WRITE = f"""
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local hour, day = 'h' .. ARGV[1], 'd' .. ARGV[2]
redis.call('HSET', KEYS[1], hour, seq, day, seq, 'all', seq)
local now = tonumber(redis.call('TIME')[1])
redis.call('ZADD', KEYS[2], now, hour, now, day)
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]), 'LIMIT', 0, {PRUNE_BATCH})
if #old > 0 then
  redis.call('HDEL', KEYS[1], unpack(old))
  redis.call('ZREM', KEYS[2], unpack(old))
end
redis.call('PUBLISH', ARGV[3], ARGV[1] .. ' ' .. ARGV[2])
return seq
"""


def page_key(query: list[tuple[str, str]]) -> str:
    """Keyed by the raw, sorted query: a hit skips even parameter parsing. Only a query that
    passed validation is ever stored, so a hit is always for a valid query."""
    return f"{PREFIX}:page:" + hashlib.blake2b(orjson.dumps(sorted(query)), digest_size=12).hexdigest()


def span(starts_at: datetime, ends_at: datetime, after: datetime | None, page: dict) -> tuple[str, int, int]:
    """(level, first bucket, last bucket) of the range of start times a write can change the page in."""
    lo = max(starts_at, after) if after is not None else starts_at
    # A full page ends at its last item: a later event lands on a later page. An event at exactly
    # that instant may sort before it (by id), so the bucket is included.
    hi = datetime.fromisoformat(page["items"][-1]["starts_at"]) if page["next_cursor"] else ends_at
    lo_s, hi_s = lo.timestamp(), hi.timestamp()
    if hi_s // HOUR - lo_s // HOUR < MAX_HOURS:
        return "h", int(lo_s // HOUR), int(hi_s // HOUR)
    if hi_s // DAY - lo_s // DAY < MAX_DAYS:
        return "d", int(lo_s // DAY), int(hi_s // DAY)
    return "all", 0, 0


def stored(seq: int, level: str, lo: int, hi: int, body: bytes) -> bytes:
    return f"{seq} {level} {lo} {hi}|".encode() + body


def parse(value: bytes) -> tuple[bytes, tuple[str, int, int]]:
    """(body, span) of a stored page."""
    header, _, body = value.partition(b"|")
    _seq, level, lo, hi = header.decode().split(" ")
    return body, (level, int(lo), int(hi))


def write_args(starts_at: datetime) -> tuple[int, int]:
    t = starts_at.timestamp()
    return int(t // HOUR), int(t // DAY)


def covers(level: str, lo: int, hi: int, starts_at: datetime) -> bool:
    """Whether a write starting at `starts_at` can change a page with this span."""
    hour, day = write_args(starts_at)
    if level == "h":
        return lo <= hour <= hi
    if level == "d":
        return lo <= day <= hi
    return True
