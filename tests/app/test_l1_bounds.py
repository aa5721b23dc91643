"""The L1 tier's own rules, without a server: bounds, page spans, the index and the read/invalidation race."""

from __future__ import annotations

import time

import pytest

from app.l1 import L1, RECENT


def test_the_cache_holds_at_most_size_entries_and_keeps_the_newest():
    l1 = L1(size=3, ttl_s=60)
    for i in range(5):
        l1.put_event(f"e{i}", f"body {i}".encode())
    assert len(l1.entries) == 3
    assert [l1.get(f"e{i}") for i in range(5)] == [None, None, b"body 2", b"body 3", b"body 4"]


def test_an_entry_is_served_until_its_ttl_and_not_after():
    l1 = L1(size=10, ttl_s=0.2)
    assert l1.ttl_s == 0.2
    l1.put_event("e", b"event")
    l1.put_page("p", b"page", ("h", 1, 1), l1.version)
    assert l1.get("e") == b"event" and l1.get("p") == b"page"
    time.sleep(0.3)  # past the TTL: expiry is ordered by the monotonic clock, not timed
    assert l1.get("e") is None and l1.get("p") is None


@pytest.mark.parametrize(("span", "buckets", "indexed"), [
    (("h", 10, 12), [("h", 10), ("h", 11), ("h", 12)], 3),
    (("d", 3, 3), [("d", 3)], 1),
    (("all", 0, 0), ["all"], 1),
    (("all", 2, 9), ["all"], 1),
])
def test_a_page_is_indexed_under_every_hour_or_day_of_its_span(span, buckets, indexed):
    l1 = L1(size=10, ttl_s=60)
    l1.put_event("event", b"e")  # events are never indexed
    assert l1.put_page("page", b"p", span, l1.version) is True
    assert l1.get("page") == b"p"
    assert l1.index == {b: {"page"} for b in buckets}
    assert l1.indexed == indexed


@pytest.mark.parametrize(("hour", "day", "dropped"), [
    (9, 0, False), (10, 0, True), (12, 0, True), (13, 0, False),  # an hours page: its first and last hour
    (0, 2, False), (0, 3, True), (0, 4, True), (0, 5, False),  # a days page: its first and last day
])
def test_an_invalidation_drops_a_page_from_its_first_to_its_last_bucket(hour, day, dropped):
    l1 = L1(size=10, ttl_s=60)
    l1.put_page("hours", b"h", ("h", 10, 12), l1.version)
    l1.put_page("days", b"d", ("d", 3, 4), l1.version)
    l1.invalidate(hour, day)
    gone = {k for k in ("hours", "days") if l1.get(k) is None}
    assert bool(gone) is dropped and len(gone) <= 1


def test_an_invalidation_counts_and_remembers_itself():
    l1 = L1(size=10, ttl_s=60)
    l1.invalidate(5, 2)
    l1.invalidate(None, None)
    assert l1.version == 2
    assert list(l1.recent) == [(1, 5, 2), (2, None, None)]


@pytest.mark.parametrize(("hour", "day"), [(None, None), (7, None), (None, 7)])
def test_an_invalidation_without_hour_or_day_drops_every_page_but_no_event(hour, day):
    l1 = L1(size=10, ttl_s=60)
    l1.put_event("event", b"e")
    l1.put_page("hours", b"h", ("h", 100, 101), l1.version)
    l1.put_page("days", b"d", ("d", 100, 100), l1.version)
    l1.invalidate(hour, day)
    assert [l1.get(k) for k in ("event", "hours", "days")] == [b"e", None, None]
    assert l1.index == {} and l1.indexed == 0


@pytest.mark.parametrize(("hour", "day"), [(None, None), (1, 0)])
def test_an_invalidation_of_a_page_already_evicted_is_harmless(hour, day):
    l1 = L1(size=1, ttl_s=60)
    l1.put_page("old", b"o", ("h", 1, 1), l1.version)
    l1.put_page("new", b"n", ("h", 2, 2), l1.version)  # evicts "old"; its index entry stays
    assert l1.get("old") is None
    l1.invalidate(hour, day)
    assert l1.get("new") == (b"n" if hour is not None else None)


def test_the_index_is_rebuilt_once_it_holds_more_than_eight_memberships_per_entry():
    l1 = L1(size=2, ttl_s=60)
    for i in range(16):
        l1.put_page(f"p{i}", b"x", ("h", i, i), l1.version)
    assert l1.indexed == 16 and len(l1.index) == 16  # stale memberships of evicted pages are kept
    l1.put_page("p16", b"x", ("h", 16, 16), l1.version)
    assert l1.indexed == 2
    assert l1.index == {("h", 15): {"p15"}, ("h", 16): {"p16"}}


def test_a_rebuilt_index_holds_exactly_the_live_pages_spans():
    l1 = L1(size=3, ttl_s=60)
    l1.put_event("event", b"e")
    l1.put_page("all", b"a", ("all", 2, 9), l1.version)  # one membership, whatever its bounds
    l1.put_page("days", b"d", ("d", 1, 3), l1.version)
    for _ in range(5):  # the same keys again: each put adds memberships until the rebuild
        l1.put_page("all", b"a", ("all", 2, 9), l1.version)
        l1.put_page("days", b"d", ("d", 1, 3), l1.version)
    l1._reindex()
    assert l1.index == {"all": {"all"}, ("d", 1): {"days"}, ("d", 2): {"days"}, ("d", 3): {"days"}}
    assert l1.indexed == 4
    assert l1.get("event") == b"e"


def test_a_page_read_with_no_invalidation_since_is_stored():
    l1 = L1(size=10, ttl_s=60)
    l1.invalidate(None, None)
    assert l1.put_page("p", b"x", ("all", 0, 0), l1.version) is True
    assert l1.get("p") == b"x"


@pytest.mark.parametrize(("span", "hour", "day", "stored"), [
    (("h", 10, 12), 9, 11, True),   # an hours page compares the hour, not the day
    (("h", 10, 12), 10, 99, False),
    (("h", 10, 12), 12, 99, False),
    (("h", 10, 12), 13, 11, True),
    (("d", 3, 4), 3, 2, True),      # a days page compares the day, not the hour
    (("d", 3, 4), 99, 3, False),
    (("d", 3, 4), 99, 4, False),
    (("d", 3, 4), 4, 5, True),
    (("all", 0, 0), 500, 500, False),
    (("h", 10, 12), None, 11, False),
    (("h", 10, 12), 11, None, False),
])
def test_a_page_is_refused_only_when_an_invalidation_during_its_read_may_change_it(span, hour, day, stored):
    l1 = L1(size=10, ttl_s=60)
    since = l1.version
    l1.invalidate(hour, day)
    assert l1.put_page("p", b"x", span, since) is stored
    assert (l1.get("p") == b"x") is stored


def test_invalidations_before_the_read_started_do_not_refuse_it():
    l1 = L1(size=10, ttl_s=60)
    l1.invalidate(11, 0)
    since = l1.version  # the read starts after that invalidation
    l1.invalidate(20, 0)
    assert l1.put_page("p", b"x", ("h", 10, 12), since) is True


def test_an_invalidation_during_the_read_is_found_after_older_ones():
    l1 = L1(size=10, ttl_s=60)
    l1.invalidate(20, 0)
    since = l1.version
    l1.invalidate(11, 0)  # during the read, after one that does not matter
    assert l1.put_page("p", b"x", ("h", 10, 12), since) is False


def test_a_read_is_checked_while_every_invalidation_since_it_started_is_remembered():
    l1 = L1(size=10, ttl_s=60)
    for i in range(RECENT + 1):  # the first one is forgotten
        l1.invalidate(1000 + i, 1000 + i)
    assert l1.recent[0][0] == 2
    assert l1.put_page("checked", b"x", ("h", 1, 1), 1) is True
    assert l1.put_page("unknown", b"x", ("h", 1, 1), 0) is False
    assert l1.get("unknown") is None
