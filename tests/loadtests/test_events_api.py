"""The suite's body checks: a 200 with a wrong body must be a failure."""

from datetime import datetime, timezone

from loadtests.events_api import check_created, check_event, check_search, cold_window, hot_window, new_event

START, END = "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"


def test_search_accepts_items_inside_the_window():
    body = {"items": [{"id": "1", "occurred_at": "2026-01-01T00:30:00Z"}]}
    assert check_search(body, START, END, expect_items=True) is None


def test_search_rejects_an_item_outside_the_window():
    body = {"items": [{"id": "1", "occurred_at": "2026-01-01T02:00:00Z"}]}
    assert "outside" in check_search(body, START, END, expect_items=False)


def test_search_rejects_empty_seeded_window_and_missing_items():
    assert "empty" in check_search({"items": []}, START, END, expect_items=True)
    assert "no items list" in check_search({"data": []}, START, END, expect_items=False)


def test_get_rejects_another_event():
    assert check_event({"id": "a", "type": "click"}, "a") is None
    assert "asked for b" in check_event({"id": "a", "type": "click"}, "b")


def test_create_needs_an_id_and_the_sent_type():
    sent = new_event()
    assert check_created({"id": "x", "type": sent["type"]}, sent) is None
    assert "no id" in check_created({"type": sent["type"]}, sent)


def test_windows():
    now = datetime(2026, 1, 1, 12, 0, 30, tzinfo=timezone.utc)
    assert hot_window(now) == ("2026-01-01T11:45:00Z", "2026-01-01T12:01:00Z")
    assert cold_window("2026-01-01T00:30:00Z") == ("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
