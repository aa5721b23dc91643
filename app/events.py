"""Event data access: keyword-only functions over one asyncpg connection."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import orjson

from app.errors import AppError

_COLUMNS = "id, title, venue, starts_at, ends_at, capacity, created_at"


def to_json(record: asyncpg.Record) -> dict:
    return {"id": str(record["id"]), "title": record["title"], "venue": record["venue"],
            "starts_at": record["starts_at"].isoformat(), "ends_at": record["ends_at"].isoformat(),
            "capacity": record["capacity"], "created_at": record["created_at"].isoformat()}


async def create_event(conn: asyncpg.Connection, *, title: str, venue: str, starts_at: datetime,
                       ends_at: datetime, capacity: int) -> dict:
    # A single autocommit INSERT: once it returns, the row is durable and the 201 may be sent.
    row = await conn.fetchrow(
        f"INSERT INTO events (title, venue, starts_at, ends_at, capacity) "
        f"VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}",
        title, venue, starts_at, ends_at, capacity)
    return to_json(row)


async def get_event(conn: asyncpg.Connection, *, event_id: UUID) -> dict | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM events WHERE id = $1", event_id)
    return to_json(row) if row else None


SEARCH_SQL = (
    f"SELECT {_COLUMNS} FROM events "
    "WHERE starts_at >= $1 AND starts_at < $2 AND (starts_at, id) > ($3, $4) "
    "ORDER BY starts_at, id LIMIT $5")


async def search_events(conn: asyncpg.Connection, *, starts_at: datetime, ends_at: datetime,
                        limit: int, after: tuple[datetime, UUID] | None) -> dict:
    """Events starting in [starts_at, ends_at), in (starts_at, id) order, after the cursor."""
    after_ts, after_id = after or (starts_at, UUID(int=0))
    # One extra row tells whether another page exists without a COUNT.
    rows = await conn.fetch(SEARCH_SQL, starts_at, ends_at, after_ts, after_id, limit + 1)
    items = [to_json(r) for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1]["starts_at"], rows[limit - 1]["id"]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


def encode_cursor(starts_at: datetime, event_id: UUID) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([starts_at.isoformat(), str(event_id)])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts, eid = orjson.loads(raw)
        if not isinstance(ts, str) or not isinstance(eid, str):
            raise TypeError("cursor parts are strings")
        after = datetime.fromisoformat(ts)
        # A crafted cursor must not reach PostgreSQL with an instant its client cannot encode (500).
        if after.tzinfo is None:
            raise ValueError("cursor time without a zone")
        after.astimezone(UTC)
        return after, UUID(eid)
    except (binascii.Error, ValueError, TypeError, OverflowError) as exc:
        raise AppError(422, "validation_error", "cursor: not a cursor returned by this API") from exc
