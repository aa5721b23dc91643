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
    r.eval(search_pages.WRITE, 2, search_pages.WRITES_KEY, search_pages.MARKED_AT_KEY, *search_pages.write_args(T),
           "test-channel", 3600)
    fresh, value = r.eval(search_pages.READ, 2, page, search_pages.WRITES_KEY)
    assert (fresh == 0) is covered
    assert value == (b"1" if covered else search_pages.stored(0, level, lo, hi, b"body"))


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


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


NOT_FULL = {"items": [], "next_cursor": None}


def test_a_full_page_spans_to_its_last_item_only():
    items = [{"starts_at": f"2033-04-01T0{h}:00:00+00:00"} for h in (1, 2, 5)]
    full = {"items": items, "next_cursor": "c"}
    start, end = _at("2033-04-01T00:00:00+00:00"), _at("2033-04-03T00:00:00+00:00")
    hour = search_pages.write_args(start)[0]
    assert search_pages.span(start, end, None, full) == ("h", hour, hour + 5)


def test_hours_up_to_two_days_then_days_up_to_four_hundred_then_all():
    lo = _at("2033-04-01T00:30:00+00:00")  # mid-hour: the first bucket is the hour it falls in
    hour, day = search_pages.write_args(lo)
    assert search_pages.span(lo, _at("2033-04-02T23:59:59+00:00"), None, NOT_FULL) == ("h", hour, hour + 47)
    assert search_pages.span(lo, _at("2033-04-03T00:00:00+00:00"), None, NOT_FULL) == ("d", day, day + 2)
    assert search_pages.span(lo, lo + timedelta(days=399), None, NOT_FULL) == ("d", day, day + 399)
    assert search_pages.span(lo, lo + timedelta(days=400), None, NOT_FULL) == ("all", 0, 0)


def test_spans_before_1970_use_the_same_buckets_as_writes():
    lo, hi = _at("1969-12-31T23:30:00+00:00"), _at("1970-01-01T00:30:00+00:00")
    assert search_pages.span(lo, hi, None, NOT_FULL) == ("h", -1, 0) == ("h", search_pages.write_args(lo)[0], 0)
    far = _at("1969-12-01T12:00:00+00:00")
    assert search_pages.span(far, _at("1969-12-31T12:00:00+00:00"), None, NOT_FULL) == ("d", -31, -1)


def test_a_window_ending_before_1970_ends_in_the_hour_before_it():
    lo, hi = _at("1969-12-31T20:30:00+00:00"), _at("1969-12-31T23:30:00+00:00")
    assert search_pages.span(lo, hi, None, NOT_FULL) == ("h", -4, -1)


def test_a_page_key_is_the_prefix_and_24_hex_digits():
    key = search_pages.page_key([("starts_at", "2033-04-01T00:00:00Z")])
    prefix = f"{search_pages.PREFIX}:page:"
    assert key.startswith(prefix) and len(key) == len(prefix) + 24
    assert int(key[len(prefix):], 16) >= 0  # hexadecimal


def test_a_stored_page_whose_body_holds_the_separator_parses_back_whole():
    body = b'{"items":[{"title":"Rock | Roll"}],"next_cursor":null}'
    assert search_pages.parse(search_pages.stored(7, "d", 10, 12, body)) == (body, ("d", 10, 12))
