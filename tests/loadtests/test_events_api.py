"""The suite's body checks: a 200 with a wrong body must be a failure."""

from datetime import UTC, datetime

from loadtests.events_api import check_created, check_event, check_search, cold_window, hot_window, new_event

START, END = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"


def item(starts_at, id_="1"):
    return {"id": id_, "title": "t", "venue": "v", "starts_at": starts_at, "capacity": 1}


def test_search_accepts_items_inside_the_window():
    assert check_search({"items": [item("2026-01-01T00:00:00+00:00")]}, START, END, expect_items=True) is None


def test_search_rejects_an_item_outside_the_half_open_window():
    assert "outside" in check_search({"items": [item("2026-01-02T00:00:00Z")]}, START, END, expect_items=False)


def test_search_rejects_empty_seeded_window_and_missing_items():
    assert "empty" in check_search({"items": [], "next_cursor": None}, START, END, expect_items=True)
    assert "no items list" in check_search({"data": []}, START, END, expect_items=False)
    assert "valid starts_at" in check_search({"items": [{"id": "1"}]}, START, END, expect_items=False)


def test_get_rejects_another_event():
    assert check_event({"id": "a", "title": "t", "capacity": 3}, "a") is None
    assert "asked for b" in check_event({"id": "a", "title": "t", "capacity": 3}, "b")


def test_create_needs_an_id_and_what_was_sent():
    sent = new_event()
    echoed = {**sent, "id": "x", "starts_at": sent["starts_at"].replace("Z", "+00:00")}
    assert check_created(echoed, sent) is None
    assert "no id" in check_created(sent, sent)
    assert "capacity" in check_created({**echoed, "capacity": sent["capacity"] + 1}, sent)


def test_windows():
    now = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    assert hot_window(now) == ("2026-01-01T00:00:00Z", "2026-01-09T00:00:00Z")
    assert cold_window("2025-06-01T13:30:00Z") == ("2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z")
