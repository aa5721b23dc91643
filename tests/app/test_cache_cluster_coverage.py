"""One shard of the Redis Cluster entirely gone (its master and its replica): the other shards
keep answering the service's client. With full coverage required every node answers CLUSTERDOWN
instead, and redis-py's cluster client answers that by closing all its connections and sleeping
0.25 s, in every request. Each test forms a cluster of its own, so the topology is known."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis as redis_sync

from app.cache import make_client
from loadline.services import start_redis_cluster, stop_all
from tests.app.conftest import make_settings

FAIL_DEADLINE_S = 30


@pytest.fixture
def own_cluster(tmp_path):
    cluster = start_redis_cluster(tmp_path / "cluster", masters=3, replicas_per_master=1)
    try:
        yield cluster
    finally:
        cluster.stop()
        stop_all(tmp_path / "cluster")


def _shard(cluster, master_port: int) -> list:
    """The master on `master_port` and the nodes that replicate it, each as it reports itself."""
    out = []
    for node in cluster.nodes:
        with redis_sync.Redis(host="127.0.0.1", port=node.port) as c:
            info = c.info("replication")
        if node.port == master_port or (info["role"] == "slave" and int(info["master_port"]) == master_port):
            out.append(node)
    return out


def test_other_shards_answer_while_one_shard_has_no_node_left(database_url, own_cluster):
    settings = make_settings(database_url, own_cluster.url.split(","), redis_mode="cluster")

    async def scenario() -> object:
        client = make_client(settings)  # the service's client: made while the cluster is whole
        try:
            await client.ping()
            # The shard of the client's default node: redis-py reloads its command table from it.
            gone_master = client.get_default_node().port
            gone = next(k for k in (f"event:gone-{i}" for i in range(1000))
                        if client.get_node_from_key(k).port == gone_master)
            other = next(k for k in (f"event:other-{i}" for i in range(1000))
                         if client.get_node_from_key(k).port != gone_master)
            shard = _shard(own_cluster, gone_master)
            assert len(shard) == 2
            live = next(n for n in own_cluster.nodes if n not in shard)
            for node in shard:
                node.kill()
            with redis_sync.Redis(host="127.0.0.1", port=live.port) as c:
                deadline = time.monotonic() + FAIL_DEADLINE_S
                while int(c.cluster("info")["cluster_slots_fail"]) == 0 and time.monotonic() < deadline:
                    time.sleep(0.1)  # the live nodes mark both failed after the node timeout
                assert int(c.cluster("info")["cluster_slots_fail"]) > 0
            with pytest.raises(Exception):  # noqa: B017 - any failure: the shard is gone
                await client.get(gone)  # the client then reloads its slot map before the next command
            await client.set(other, b"kept")
            return await client.get(other)
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) == b"kept"
