"""Acknowledged writes, read back after a run: a create answered 201 must still exist.

The suite appends the id of every create answered 201 to a file. After the run each
id is looked up in PostgreSQL itself when the gate can reach it (the local
environment), so a row served from the cache can never pass for a stored one;
otherwise through the API, by GET.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import requests

CONNECT_WAIT_S = 30
BATCH = 1000


class WriteCheckError(Exception):
    """The acknowledged writes could not be checked; the message says why."""


def acknowledged_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    seen: dict[str, None] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            seen[line.strip()] = None
    return list(seen)


async def _missing_in_postgres(ids: list[str], db_url: str) -> list[str]:
    deadline = time.monotonic() + CONNECT_WAIT_S
    while True:
        try:
            conn = await asyncpg.connect(db_url, timeout=5)
            break
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            if time.monotonic() > deadline:
                raise WriteCheckError(f"PostgreSQL unreachable for the write check: {exc}") from None
            await asyncio.sleep(0.5)
    try:
        found: set[str] = set()
        for i in range(0, len(ids), BATCH):
            rows = await conn.fetch("SELECT id::text FROM events WHERE id = ANY($1::uuid[])", ids[i:i + BATCH])
            found.update(r[0] for r in rows)
    finally:
        await conn.close()
    return [i for i in ids if i not in found]


def lost_in_postgres(ids: list[str], db_url: str) -> list[str]:
    return asyncio.run(_missing_in_postgres(ids, db_url)) if ids else []


def lost_via_api(ids: list[str], host: str, *, attempts: int = 5) -> list[str]:
    """GET each id: 404 is lost, 200 is kept; anything else is retried, then refused."""
    lost = []
    with requests.Session() as http:
        for event_id in ids:
            for attempt in range(attempts):
                try:
                    status = http.get(f"{host}/v1/events/{event_id}", timeout=5).status_code
                except requests.RequestException as exc:
                    status, last = None, str(exc)
                if status in (200, 404):
                    break
                last = f"status {status}" if status else last
                time.sleep(0.2 * (attempt + 1))
            else:
                raise WriteCheckError(f"GET /v1/events/{event_id} kept failing ({last})")
            if status == 404:
                lost.append(event_id)
    return lost
