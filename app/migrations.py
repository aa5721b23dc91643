"""Schema migrations: ordered, recorded in schema_migrations, applied under an advisory lock.

Idempotent: a second run (or a second replica starting at the same time)
applies nothing. `python -m app migrate` waits for the database first.
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

log = logging.getLogger("app.migrate")

# (version, statement). Append only; never edit an applied migration.
MIGRATIONS: list[tuple[int, str]] = [
    (1, """
    CREATE TABLE events (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
        venue       text NOT NULL CHECK (length(venue) BETWEEN 1 AND 200),
        starts_at   timestamptz NOT NULL,
        ends_at     timestamptz NOT NULL,
        capacity    integer NOT NULL CHECK (capacity > 0),
        created_at  timestamptz NOT NULL DEFAULT now(),
        CHECK (ends_at > starts_at)
    )"""),
    # Search filters and orders by (starts_at, id): keyset pagination is one index range scan.
    (2, "CREATE INDEX events_starts_at_id_idx ON events (starts_at, id)"),
]
_LOCK_ID = 0x6C6F61646C696E65  # "loadline"


class MigrationError(RuntimeError):
    pass


async def wait_for_database(url: str, timeout_s: float) -> asyncpg.Connection:
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while True:
        try:
            return await asyncpg.connect(url, timeout=5)
        except (TimeoutError, OSError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError) as exc:
            if last is None:  # once: an operator sees why the job has not finished yet
                log.info("waiting for the database", extra={"error": f"{type(exc).__name__}: {exc}"})
            last = exc
        if time.monotonic() >= deadline:
            raise MigrationError(f"database not reachable after {timeout_s:g} s: "
                                 f"{type(last).__name__}: {last}")
        await asyncio.sleep(0.5)


async def migrate(url: str, *, wait_s: float = 60.0) -> list[int]:
    """Apply pending migrations; returns the versions applied by this run."""
    conn = await wait_for_database(url, wait_s)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                           "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for version, sql in MIGRATIONS:
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            log.info("migration applied", extra={"version": version})
            applied.append(version)
        return applied
    finally:
        await conn.close()  # also releases the advisory lock
