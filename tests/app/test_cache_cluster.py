"""The service on a real 6-node Redis Cluster: redirects followed, a master failover survived."""

from __future__ import annotations

import asyncio
import hashlib
import time
from types import SimpleNamespace

import redis as redis_sync

from app.cache import Cache, make_client
from app.ratelimit import RateLimiter
from tests.app.conftest import create, make_settings, metric, running

WINDOW = {"starts_at": "2034-01-01T00:00:00Z", "ends_at": "2034-01-02T00:00:00Z"}


def _cluster_client(settings_overrides, database_url, redis_cluster):
    return running(make_settings(database_url, redis_cluster.url.split(","), redis_mode="cluster",
                                 **settings_overrides))


def _master_of(redis_cluster, key: str):
    alive = next(n for n in redis_cluster.nodes if n.running)
    with redis_sync.RedisCluster(host="127.0.0.1", port=alive.port) as rc:
        node = rc.get_node_from_key(key)
    return next(n for n in redis_cluster.nodes if n.port == node.port)


def _new_master_of(redis_cluster, key: str, old, timeout_s: float = 30):
    """The key's master once the nodes' slot map no longer names `old`: a promotion reaches the
    other nodes by gossip, so a node asked right after it can still answer the old owner."""
    deadline = time.monotonic() + timeout_s
    while True:
        node = _master_of(redis_cluster, key)
        if node.port != old.port or time.monotonic() > deadline:
            return node
        time.sleep(0.1)


def test_cache_spreads_over_the_shards_and_follows_redirects(database_url, redis_cluster):
    # Startup node list holds one replica only: every command starts with a redirect or a slot lookup.
    replica = next(n for n in redis_cluster.nodes if n not in redis_cluster.masters())
    settings = make_settings(database_url, [f"redis://127.0.0.1:{replica.port}"], redis_mode="cluster")
    with running(settings) as client:
        # Counters live in the test process: earlier tests' outages are already counted.
        degraded = metric(client, "degraded_requests_total", dependency="redis")
        events = [create(client, starts_at=f"2034-01-01T{h:02d}:00:00Z", ends_at=f"2034-01-01T{h:02d}:30:00Z")
                  for h in range(8)]
        hits = metric(client, "cache_requests_total", result="hit")
        for e in events:
            client.get(f"/v1/events/{e['id']}")
            assert client.get(f"/v1/events/{e['id']}").json() == e
        assert metric(client, "cache_requests_total", result="hit") == hits + len(events)
        assert metric(client, "degraded_requests_total", dependency="redis") == degraded
    owners = {_master_of(redis_cluster, f"event:{e['id']}").port for e in events}
    assert len(owners) >= 2  # keys really live on different masters


def test_survives_a_master_failover(database_url, redis_cluster, outage):
    # An L1 entry lapses at once: every read below asks Redis.
    with _cluster_client({"cache_l1_ttl_seconds": 0.001}, database_url, redis_cluster) as client:
        event = create(client, starts_at="2034-01-01T12:00:00Z", ends_at="2034-01-01T13:00:00Z")
        key = f"event:{event['id']}"
        assert client.get(f"/v1/events/{event['id']}").status_code == 200  # cached on its master
        victim = _master_of(redis_cluster, key)
        outage.kill(victim)

        # While the replica takes over, answers come from PostgreSQL: never a 5xx.
        assert client.get(f"/v1/events/{event['id']}").status_code == 200
        assert client.get("/v1/events/search", params=WINDOW).status_code == 200
        redis_cluster.wait_ok(timeout_s=30, expect_masters=3)
        promoted = _new_master_of(redis_cluster, key, victim)
        assert promoted.port != victim.port

        # The client has found the new master: reads hit the cache again, without degrading.
        client.get(f"/v1/events/{event['id']}")
        degraded = metric(client, "degraded_requests_total", dependency="redis")
        hits = metric(client, "cache_requests_total", tier="l2", result="hit")
        assert client.get(f"/v1/events/{event['id']}").json() == event
        assert metric(client, "cache_requests_total", tier="l2", result="hit") == hits + 1
        assert metric(client, "degraded_requests_total", dependency="redis") == degraded


def test_a_dead_master_costs_one_failed_call_then_the_client_finds_the_new_one(database_url, redis_cluster, outage):
    """redis-py's cluster client retries a failed pipeline up to 10 times, closing every connection
    and reloading the slot map each time; the service's client must fail once and move on."""
    settings = make_settings(database_url, redis_cluster.url.split(","), redis_mode="cluster")
    limiter_key = "ratelimit:" + hashlib.blake2b(b"client-1", digest_size=12).hexdigest()

    async def scenario() -> tuple[int, list | None]:
        client = make_client(settings)
        try:
            limiter = RateLimiter(Cache(settings, client), rate=10_000, burst=10_000)
            assert (await limiter.check("client-1", SimpleNamespace()))[1] is not None
            reloads = 0
            reload = client.initialize

            async def counted(*args, **kwargs):
                nonlocal reloads
                reloads += 1
                return await reload(*args, **kwargs)

            client.initialize = counted
            outage.kill(_master_of(redis_cluster, limiter_key))
            state = SimpleNamespace()
            wait, values = await limiter.check("client-1", state)
            assert (wait, values) == (None, None) and state.degraded_redis  # failed open, once
            failed_call_reloads = reloads
            redis_cluster.wait_ok(timeout_s=30, expect_masters=3)
            for _ in range(100):  # the breaker (base 0 s here) lets each call through
                values = (await limiter.check("client-1", SimpleNamespace()))[1]
                if values is not None:
                    break
                await asyncio.sleep(0.1)
            return failed_call_reloads, values
        finally:
            await client.aclose()

    reloads, values = asyncio.run(scenario())
    assert reloads <= 1, f"the failed call reloaded the slot map {reloads} times"
    assert values is not None  # the promoted replica serves the bucket


def test_each_node_pool_allows_as_many_connections_as_the_standalone_pool(database_url, redis_cluster):
    """redis-py's cluster client allows 100 connections per node and beyond that raises
    MaxConnectionsError at once rather than wait: under a burst of slow requests that tripped the
    breaker with Redis healthy (seen in `loadline loadtest --stack staging`)."""
    settings = make_settings(database_url, redis_cluster.url.split(","), redis_mode="cluster")

    async def limits() -> set[int]:
        client = make_client(settings)
        try:
            await client.ping()
            return {node.max_connections for node in client.get_nodes()}
        finally:
            await client.aclose()

    assert asyncio.run(limits()) == {256}
