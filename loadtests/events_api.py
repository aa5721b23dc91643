"""What the suite sends to the events API and what it accepts back.

Pure functions (no Locust import) shared by the seeder and the locustfile, so
the body checks are testable on their own. Each `check_*` returns None when
the body is right, or the reason it is wrong.

Hot windows are the coming week, which every visitor's listing asks for (and
the service caches); cold windows are single days in the past year, rarely
asked and served by PostgreSQL.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

CREATE, GET, SEARCH = "/v1/events", "/v1/events/{event_id}", "/v1/events/search"
VENUES = ("Hall A", "Hall B", "Riverside Stage", "Main Arena", "Studio 3")
SEARCH_LIMIT = 20


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def new_event(starts_at: datetime | None = None) -> dict:
    """A create request body; `starts_at` defaults to a time in the coming week."""
    start = starts_at or datetime.now(UTC) + timedelta(hours=random.uniform(1, 160))
    return {
        "title": f"loadline {uuid.uuid4().hex[:12]}",
        "venue": random.choice(VENUES),
        "starts_at": iso(start),
        "ends_at": iso(start + timedelta(hours=random.choice((1, 2, 3)))),
        "capacity": random.randint(10, 5000),
    }


def check_created(body: object, sent: dict) -> str | None:
    if not isinstance(body, dict) or not body.get("id"):
        return f"create: no id in body {str(body)[:200]}"
    for key in ("title", "venue", "capacity"):
        if body.get(key) != sent[key]:
            return f"create: {key} {body.get(key)!r} != sent {sent[key]!r}"
    if parse_ts(body.get("starts_at", "")) != parse_ts(sent["starts_at"]):
        return f"create: starts_at {body.get('starts_at')!r} != sent {sent['starts_at']!r}"
    return None


def check_event(body: object, event_id: str) -> str | None:
    if not isinstance(body, dict):
        return f"get: body is not an object: {str(body)[:200]}"
    if str(body.get("id")) != str(event_id):
        return f"get: asked for {event_id}, got id {body.get('id')!r}"
    if not body.get("title") or not isinstance(body.get("capacity"), int):
        return f"get: event {event_id} lacks title or capacity: {str(body)[:200]}"
    return None


def check_search(body: object, start: str, end: str, *, expect_items: bool) -> str | None:
    """Items exist when the window was seeded, and all start in [start, end)."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return f"search: no items list in body {str(body)[:200]}"
    if expect_items and not items:
        return f"search: seeded window {start}..{end} came back empty"
    if len(items) > SEARCH_LIMIT:
        return f"search: {len(items)} items for limit {SEARCH_LIMIT}"
    lo, hi = parse_ts(start), parse_ts(end)
    for item in items:
        try:
            ts = parse_ts(item["starts_at"])
        except (KeyError, TypeError, ValueError):
            return f"search: item without a valid starts_at: {str(item)[:200]}"
        if not lo <= ts < hi:
            return f"search: event {item.get('id')} starting {item['starts_at']} is outside {start}..{end}"
    return None


def hot_window(now: datetime) -> tuple[str, str]:
    """The coming week from today's midnight: the same query from every visitor."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return iso(day), iso(day + timedelta(days=8))


def cold_window(around: str) -> tuple[str, str]:
    """The day of an old seeded event: a rarely asked, uncached query."""
    day = parse_ts(around).replace(hour=0, minute=0, second=0, microsecond=0)
    return iso(day), iso(day + timedelta(days=1))
