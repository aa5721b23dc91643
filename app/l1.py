"""The in-process cache tier (L1), one per worker, in front of Redis (L2).

Entries are encoded response bodies, so a hit is served as stored bytes. Events never
change, so an event entry only ages out. A search page is indexed by the hours or days its
range covers (app/search_pages.py); an invalidation (a write here, or a message from another
worker or replica, app/invalidation.py) drops the pages indexed under the write's hour and
day at once. The TTL bounds how long a page outlives a write whose invalidation never
arrives (Redis down, the subscription reconnecting).

A page read from Redis or PostgreSQL is stored only if no invalidation that could change it
arrived while it was being read: else a message that raced ahead of the read would leave a
stale page for the whole TTL.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from cachetools import TTLCache

Span = tuple[str, int, int]
# Invalidations remembered for the race check above; a read that spans more of them than
# this is not stored (it is rare: a read takes milliseconds).
RECENT = 1024


class L1:
    def __init__(self, *, size: int, ttl_s: float):
        self.ttl_s = ttl_s
        self.entries: TTLCache[Any, tuple[bytes, Span | None]] = TTLCache(maxsize=size, ttl=ttl_s)
        self.index: dict[tuple[str, int] | str, set] = {}
        self.indexed = 0  # index memberships, live or not: the index is rebuilt when it outgrows the cache
        self.version = 0
        self.recent: deque[tuple[int, int | None, int | None]] = deque(maxlen=RECENT)

    def get(self, key: Any) -> bytes | None:
        entry = self.entries.get(key)
        return entry[0] if entry is not None else None

    def put_event(self, key: Any, body: bytes) -> None:
        self.entries[key] = (body, None)

    def put_page(self, key: Any, body: bytes, span: Span, since: int) -> bool:
        """Store a page read after invalidation `since` (self.version then); False when one since may change it."""
        if since != self.version and self._changed_since(since, span):
            return False
        self.entries[key] = (body, span)
        for bucket in _buckets(span):
            self.index.setdefault(bucket, set()).add(key)
        self.indexed += 1 if span[0] == "all" else span[2] - span[1] + 1
        if self.indexed > 8 * self.entries.maxsize:
            self._reindex()
        return True

    def invalidate(self, hour: int | None, day: int | None) -> None:
        """A write starting in this hour and day (None, None: anything may have changed)."""
        self.version += 1
        self.recent.append((self.version, hour, day))
        if hour is None or day is None:
            for bucket_keys in self.index.values():
                for key in bucket_keys:
                    self.entries.pop(key, None)
            self.index.clear()
            self.indexed = 0
            return
        for bucket in (("h", hour), ("d", day), "all"):
            for key in self.index.pop(bucket, ()):
                self.entries.pop(key, None)

    def _changed_since(self, since: int, span: Span) -> bool:
        if not self.recent or self.recent[0][0] > since + 1:
            return True  # the invalidations since then are no longer all remembered
        level, lo, hi = span
        for version, hour, day in self.recent:
            if version <= since:
                continue
            if hour is None or day is None or level == "all":
                return True
            if lo <= (hour if level == "h" else day) <= hi:
                return True
        return False

    def _reindex(self) -> None:
        self.index.clear()
        self.indexed = 0
        for key, (_, span) in list(self.entries.items()):
            if span is not None:
                for bucket in _buckets(span):
                    self.index.setdefault(bucket, set()).add(key)
                self.indexed += 1 if span[0] == "all" else span[2] - span[1] + 1


def _buckets(span: Span) -> list[tuple[str, int] | str]:
    level, lo, hi = span
    if level == "all":
        return ["all"]
    return [(level, b) for b in range(lo, hi + 1)]
