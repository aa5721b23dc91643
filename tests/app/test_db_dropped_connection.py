"""A pooled connection that PostgreSQL dropped while it sat idle: 503, never 500.

When PostgreSQL restarts (or terminates a backend) it sends an idle connection a FATAL error and
closes it. asyncpg reads the error at once but notices the close only later; a request that takes
the connection in between gets `InternalClientError` ("cannot switch to state 12; another operation
(2) is in progress"). Under load during `--fault postgres-restart` that window is hit by chance;
here a TCP relay in front of the real PostgreSQL passes the FATAL on and holds the close back, as a
slow network would, so every run hits it.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from app.db import Database
from app.errors import AppError
from app.settings import Settings
from tests.app.conftest import API_KEY

HOLD_CLOSE_S = 30  # far longer than the test takes: the close is held until the relay stops


class LateCloseRelay:
    """Loopback TCP relay to PostgreSQL that forwards every byte but holds back the server's close."""

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.server_closed = asyncio.Event()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, hold: bool) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            if hold:
                self.server_closed.set()
                await asyncio.sleep(HOLD_CLOSE_S)
            dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True),
                             return_exceptions=True)

    async def stop(self) -> None:
        self.server.close()
        for w in self._writers:
            w.close()


async def _dropped_while_idle(database_url: str, use) -> object:
    url = urlsplit(database_url)
    relay = LateCloseRelay(url.hostname or "127.0.0.1", url.port or 5432)
    port = await relay.start()
    relayed = urlunsplit(url._replace(netloc=f"{url.username}:{url.password}@127.0.0.1:{port}"))
    db = Database(Settings(environment="development", database_url=relayed, redis_url=["redis://127.0.0.1:1/0"],
                           api_keys=[API_KEY], db_pool_min=1, db_pool_max=1))
    await db.open()
    try:
        async with db.connection() as conn:
            backend = conn.get_server_pid()
        admin = await asyncpg.connect(database_url)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", backend)
        finally:
            await admin.close()
        await asyncio.wait_for(relay.server_closed.wait(), 10)
        await asyncio.sleep(0.5)  # asyncio delivers the FATAL to the idle connection's protocol
        return await use(db)
    finally:
        await relay.stop()
        await asyncio.wait_for(db.pool.close(), 10) if db.pool else None


async def _write(db: Database) -> object:
    async with db.connection() as conn:
        return await conn.fetchval("SELECT 1")


async def _read(db: Database) -> object:
    async def one(conn):
        return await conn.fetchval("SELECT 1")
    return await db.read(one)


def test_a_write_on_a_connection_dropped_while_idle_is_a_503(database_url):
    with pytest.raises(AppError) as err:
        asyncio.run(_dropped_while_idle(database_url, _write))
    assert err.value.status == 503 and err.value.headers == {"Retry-After": "5"}


def test_a_read_on_a_connection_dropped_while_idle_is_retried_on_a_fresh_one(database_url):
    assert asyncio.run(_dropped_while_idle(database_url, _read)) == 1
