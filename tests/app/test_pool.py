"""Database connections go back to the pool after every kind of request."""

from __future__ import annotations

import asyncio

from app.db import Database
from tests.app.conftest import API_KEY, EVENT, create, make_settings, metric

WINDOW = {"starts_at": "2035-02-01T00:00:00Z", "ends_at": "2035-02-02T00:00:00Z"}


def test_connections_return_to_the_pool_after_requests(client, postgres, outage):
    baseline = metric(client, "db_pool_connections_in_use")
    event = create(client, starts_at="2035-02-01T10:00:00Z", ends_at="2035-02-01T11:00:00Z")
    client.get(f"/v1/events/{event['id']}")
    client.get("/v1/events/search", params=WINDOW)
    client.get("/v1/events/00000000-0000-0000-0000-00000000dead")  # 404 from the database
    bad = client.post("/v1/events", json={**event, "capacity": -1}, headers={"X-API-Key": API_KEY})
    assert bad.status_code == 422
    outage.stop(postgres)
    down = client.post("/v1/events", json={**EVENT, "title": "while down"}, headers={"X-API-Key": API_KEY})
    assert down.status_code == 503
    assert client.get("/v1/events/00000000-0000-0000-0000-00000000beef").status_code == 503
    outage.restart(postgres)
    assert client.get("/readyz").status_code == 200
    assert metric(client, "db_pool_connections_in_use") == baseline == 0
    pool = client.app.state.services.db.pool
    assert pool.get_size() - pool.get_idle_size() == 0  # the pool's own count agrees


def _released_queries(database_url: str, redis_url: str, first_sql: str) -> tuple[list[str], bool]:
    """The queries a pooled connection sends from checkout until it is back in the pool, and
    whether the next checkout of that connection is inside a transaction."""
    async def scenario():
        db = Database(make_settings(database_url, [redis_url], db_pool_max=1))
        await db.open()
        sent: list[str] = []
        try:
            async with db.connection() as conn:
                conn.add_query_logger(lambda record: sent.append(record.query))
                await conn.execute(first_sql)
            # The same (only) connection, after the release has finished.
            async with db.connection() as conn:
                in_transaction = conn.is_in_transaction()
            return sent, in_transaction
        finally:
            await db.close()
    return asyncio.run(scenario())


def test_a_released_connection_costs_no_reset_round_trip(database_url, redis):
    # The default reset (RESET ALL, UNLISTEN *, CLOSE ALL, advisory unlock) would show up here as
    # a second query: one more round trip before each response that used the database.
    sent, in_transaction = _released_queries(database_url, redis.url, "SELECT 1")
    assert sent == ["SELECT 1"]
    assert in_transaction is False


def test_a_connection_released_inside_a_transaction_comes_back_rolled_back(database_url, redis):
    # Keeping the session must not keep a transaction a failed request left open.
    sent, in_transaction = _released_queries(database_url, redis.url, "BEGIN")
    assert sent[0] == "BEGIN"
    assert in_transaction is False
