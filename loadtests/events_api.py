"""What the suite sends to the events API and what it accepts back.

Pure functions (no Locust import) shared by the seeder and the locustfile, so
the body checks are testable on their own. Each `check_*` returns None when
the body is right, or the reason it is wrong.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

EVENT_TYPES = ("page_view", "click", "signup", "purchase")
CREATE, GET, SEARCH = "/v1/events", "/v1/events/{event_id}", "/v1/events/search"


def iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def new_event(occurred_at: datetime | None = None) -> dict:
    """A create request body; `occurred_at` defaults to now."""
    return {
        "type": random.choice(EVENT_TYPES),
        "source": "loadline-loadtest",
        "occurred_at": iso(occurred_at or datetime.now(timezone.utc)),
        "payload": {"session": uuid.uuid4().hex, "value": random.randint(1, 1000)},
    }


def check_created(body: object, sent: dict) -> str | None:
    if not isinstance(body, dict) or not body.get("id"):
        return f"create: no id in body {str(body)[:200]}"
    if body.get("type") != sent["type"]:
        return f"create: type {body.get('type')!r} != sent {sent['type']!r}"
    return None


def check_event(body: object, event_id: str) -> str | None:
    if not isinstance(body, dict):
        return f"get: body is not an object: {str(body)[:200]}"
    if str(body.get("id")) != str(event_id):
        return f"get: asked for {event_id}, got id {body.get('id')!r}"
    if body.get("type") not in EVENT_TYPES:
        return f"get: unexpected type {body.get('type')!r}"
    return None


def check_search(body: object, start: str, end: str, *, expect_items: bool) -> str | None:
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return f"search: no items list in body {str(body)[:200]}"
    if expect_items and not items:
        return f"search: seeded window {start}..{end} came back empty"
    lo, hi = parse_ts(start), parse_ts(end)
    for item in items:
        ts = parse_ts(item.get("occurred_at", ""))
        if not lo <= ts <= hi:
            return f"search: event {item.get('id')} at {item.get('occurred_at')} is outside {start}..{end}"
    return None


def hot_window(now: datetime) -> tuple[str, str]:
    """The last 15 minutes, aligned to the minute: what a dashboard asks again and again."""
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return iso(end - timedelta(minutes=16)), iso(end)


def cold_window(around: str) -> tuple[str, str]:
    """A one-hour window around an old seeded event: a rarely asked, uncached query."""
    ts = parse_ts(around)
    return iso(ts - timedelta(minutes=30)), iso(ts + timedelta(minutes=30))
