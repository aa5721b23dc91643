"""A real Redis Cluster of loopback redis-server processes, formed with `redis-cli --cluster create`.

Node timeout is short (2 s) so a replica is promoted within seconds of its
master dying: the failover tests and `loadline local` should not wait 15 s.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis as redis_sync

from loadline.services.errors import ServiceError, log_tail
from loadline.services.ports import free_port
from loadline.services.redis import RedisServer

CLUSTER_BUS_OFFSET = 10000
NODE_TIMEOUT_MS = 2000
FORM_TIMEOUT_S = 60


def cluster_args() -> list[str]:
    return ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            # Loopback replicas never lag far: let any replica take over, however long the master was gone.
            "--cluster-replica-validity-factor", "0",
            # As deployed (components/redis_cluster.py): the other shards keep serving while one has no master.
            "--cluster-require-full-coverage", "no"]


@dataclass
class RedisCluster:
    """`.url` (comma-separated startup nodes), `.nodes`, `.masters()`, `.wait_ok()`, `.stop()`."""

    workdir: Path
    nodes: list[RedisServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return ",".join(f"redis://127.0.0.1:{n.port}" for n in self.nodes)

    def info(self, node: RedisServer) -> dict:
        with node.client() as c:
            return c.cluster("info")

    def masters(self) -> list[RedisServer]:
        """Running nodes that currently serve slots as masters."""
        out = []
        for n in self.nodes:
            if not n.running:
                continue
            try:
                with n.client() as c:
                    if c.info("replication").get("role") == "master":
                        out.append(n)
            except redis_sync.RedisError:
                continue
        return out

    def wait_ok(self, timeout_s: float = FORM_TIMEOUT_S, expect_masters: int | None = None) -> None:
        """Until every running node reports cluster_state:ok (and, optionally, that many masters)."""
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            try:
                states = [self.info(n).get("cluster_state") for n in self.nodes if n.running]
                if states and all(s == "ok" for s in states) and (
                        expect_masters is None or len(self.masters()) == expect_masters):
                    return
                last = f"states {states}"
            except redis_sync.RedisError as exc:
                last = str(exc)
            time.sleep(0.1)
        first = next((n for n in self.nodes if n.running), self.nodes[0])
        raise ServiceError(f"redis cluster: not ok after {timeout_s:g} s ({last})"
                           f"\n  log tail ({first.log_file}):\n{log_tail(first.log_file)}")

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


def start_redis_cluster(workdir: Path, masters: int = 3, replicas_per_master: int = 1) -> RedisCluster:
    """Start masters*(1+replicas) nodes, form the cluster, wait for cluster_state:ok everywhere."""
    if masters < 3:
        raise ServiceError(f"redis cluster: masters={masters}; Redis Cluster needs at least 3")
    cli = shutil.which("redis-cli")
    if not cli:
        raise ServiceError("redis cluster: redis-cli not found; install redis-server (make setup)")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    cluster = RedisCluster(workdir=workdir)
    try:
        for _ in range(masters * (1 + replicas_per_master)):
            node = RedisServer(workdir=workdir, port=free_port(also_free_offset=CLUSTER_BUS_OFFSET),
                               extra_args=cluster_args(), prefix="redis-cluster")
            node.start()
            cluster.nodes.append(node)
        argv = [cli, "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in cluster.nodes],
                "--cluster-replicas", str(replicas_per_master), "--cluster-yes"]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=FORM_TIMEOUT_S)
        if res.returncode != 0:
            raise ServiceError(f"redis cluster: `redis-cli --cluster create` failed (exit {res.returncode}):"
                               f" {(res.stderr or res.stdout).strip()[-2000:]}")
        cluster.wait_ok(expect_masters=masters)
    except BaseException:
        cluster.stop()
        raise
    return cluster
