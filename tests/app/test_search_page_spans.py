"""A search page's span against the write log: the Python check agrees with the script Redis runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import search_pages

T = datetime(2033, 4, 1, 12, 30, tzinfo=UTC)
HOUR = search_pages.write_args(T)[0]
DAY = search_pages.write_args(T)[1]


@pytest.fixture
def r(redis):
    with redis.client() as c:
        c.flushall()
        yield c


@pytest.mark.parametrize("level, lo, hi, covered", [
    ("h", HOUR, HOUR, True), ("h", HOUR - 2, HOUR, True), ("h", HOUR, HOUR + 2, True),
    ("h", HOUR + 1, HOUR + 3, False), ("h", HOUR - 3, HOUR - 1, False),
    ("d", DAY, DAY, True), ("d", DAY - 1, DAY, True), ("d", DAY, DAY + 1, True),
    ("d", DAY + 1, DAY + 2, False), ("d", DAY - 2, DAY - 1, False),
    ("all", 0, 0, True)])
def test_a_write_changes_a_page_exactly_when_its_bucket_is_in_the_span(r, level, lo, hi, covered):
    assert search_pages.covers(level, lo, hi, T) is covered
    page = "page-key"
    r.set(page, search_pages.stored(0, level, lo, hi, b"body"))
    r.eval(search_pages.WRITE, 1, search_pages.WRITES_KEY, *search_pages.write_args(T))
    fresh, value = r.eval(search_pages.READ, 2, page, search_pages.WRITES_KEY)
    assert (fresh == 0) is covered
    assert value == (b"1" if covered else b"body")


def test_write_buckets_are_the_hour_and_day_since_the_epoch():
    assert search_pages.write_args(datetime(1970, 1, 2, 1, 59, tzinfo=UTC)) == (25, 1)
    assert search_pages.write_args(datetime(1970, 1, 1, tzinfo=UTC) - timedelta(seconds=1)) == (-1, -1)


def test_a_cursor_page_spans_from_its_cursor_not_the_window_start():
    start, end = datetime(2033, 4, 1, tzinfo=UTC), datetime(2033, 4, 1, 10, tzinfo=UTC)
    after = datetime(2033, 4, 1, 6, tzinfo=UTC)
    page = {"items": [], "next_cursor": None}
    hour = search_pages.write_args(after)[0]
    assert search_pages.span(start, end, after, page) == ("h", hour, hour + 4)
    assert search_pages.span(start, end, None, page) == ("h", hour - 6, hour + 4)
    assert search_pages.span(after, end, start, page)[1] == hour  # a cursor before the window changes nothing
