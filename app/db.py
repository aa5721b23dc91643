"""The PostgreSQL pool and what an unreachable database turns into (503 + Retry-After)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from app.errors import AppError
from app.metrics import DEGRADED_REQUESTS, POOL_IN_USE, POOL_MAX
from app.settings import Settings

log = logging.getLogger("app.db")

# Everything that means "the database is not there right now" rather than "the query is wrong".
# InternalClientError ("cannot switch to state 12; another operation (2) is in progress") is what
# asyncpg raises on a pooled connection that PostgreSQL dropped while it was idle (a restart sends
# it a FATAL error, then closes it) when a request takes it after the error was read but before the
# close was: seen as a 500 under `loadline loadtest --fault postgres-restart@60s:5s`, reproduced in
# tests/app/test_db_dropped_connection.py.
UNAVAILABLE = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError,
               asyncpg.CannotConnectNowError, asyncpg.InterfaceError, asyncpg.ConnectionDoesNotExistError,
               asyncpg.AdminShutdownError, asyncpg.CrashShutdownError, asyncpg.InternalClientError)


class Database:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        # min_size=0 at creation: the service starts (and /readyz reports) even while the database is down.
        self.pool = await asyncpg.create_pool(
            self.settings.database_url, min_size=0, max_size=self.settings.db_pool_max,
            command_timeout=self.settings.db_timeout_seconds, timeout=self.settings.db_timeout_seconds,
            max_inactive_connection_lifetime=300, reset=_keep_session)
        POOL_MAX.set(self.settings.db_pool_max)
        asyncio.get_running_loop().create_task(self._warm())

    async def _warm(self) -> None:
        assert self.pool is not None, "open() creates the pool first"
        try:
            conns = [await self.pool.acquire() for _ in range(self.settings.db_pool_min)]
            for c in conns:
                await self.pool.release(c)
        except UNAVAILABLE as exc:
            log.warning("database not reachable at start", extra={"error": str(exc)})

    async def close(self) -> None:
        if self.pool is not None:
            await asyncio.wait_for(self.pool.close(), timeout=10)
            POOL_MAX.set(0)

    def unavailable(self, exc: BaseException) -> AppError:
        DEGRADED_REQUESTS.labels(dependency="postgres").inc()
        log.warning("database unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})
        return AppError(503, "database_unavailable", "the database is unreachable; retry later",
                        {"Retry-After": str(self.settings.retry_after_seconds)})

    @asynccontextmanager
    async def _checked_out(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection from the pool, counted in use, released on the way out."""
        assert self.pool is not None, "open() creates the pool first"
        try:
            conn = await self.pool.acquire()
        except UNAVAILABLE as exc:
            raise self.unavailable(exc) from None
        POOL_IN_USE.inc()
        try:
            yield conn
        finally:
            POOL_IN_USE.dec()
            try:
                await self.pool.release(conn)
            except UNAVAILABLE:
                pass

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; a database outage surfaces as AppError(503)."""
        async with self._checked_out() as conn:
            try:
                yield conn
            except UNAVAILABLE as exc:
                raise self.unavailable(exc) from None

    async def read(self, query, /, **kwargs):
        """Run an idempotent `query(conn, **kwargs)`, retrying once on a dropped connection.

        After a database restart every pooled connection is dead; without the retry the
        first request on each would fail although the database is back.
        """
        for attempt in (1, 2):
            try:
                async with self._checked_out() as conn:
                    return await query(conn, **kwargs)
            except UNAVAILABLE as exc:
                if attempt == 2:
                    raise self.unavailable(exc) from None

    async def ping(self) -> str | None:
        """None when the database answers, else why not."""
        try:
            await self.read(_select_one)
            return None
        except AppError:
            return "unreachable"


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release, which asyncpg runs after it has rolled back any open transaction.

    Its default sends `RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()`: one more round
    trip inside every request that touches the database (a write's commit, then the reset, before
    the response). The service's pooled connections hold no session state to undo (no SET, LISTEN,
    cursor or advisory lock; migrations use a connection of their own), so there is nothing to send.
    """


async def _select_one(conn: asyncpg.Connection) -> None:
    await conn.fetchval("SELECT 1", timeout=2)
