"""The cluster-forming script against real redis-server processes on loopback."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from components.redis_cluster import INIT_SCRIPT
from loadline.services.ports import free_port
from loadline.services.redis import redis_server_bin


@pytest.fixture
def nodes(tmp_path):
    procs: list[subprocess.Popen] = []
    ports: list[int] = []

    def start(count: int) -> list[str]:
        new = []
        for _ in range(count):
            port = free_port(also_free_offset=10000)
            d = tmp_path / str(port)
            d.mkdir()
            procs.append(subprocess.Popen(
                [redis_server_bin(), "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "3000", "--dir", str(d),
                 "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            ports.append(port)
            new.append(f"127.0.0.1:{port}")
        for addr in new:
            for _ in range(100):
                if cli(addr, "ping") == "PONG":
                    break
                time.sleep(0.05)
        return new

    yield start
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=10)


def cli(addr: str, *args: str) -> str:
    host, port = addr.split(":")
    out = subprocess.run(["redis-cli", "-h", host, "-p", port, *args], capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def run_init(node_list: list[str], shards: int, replicas: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "REDIS_NODES": " ".join(node_list), "SHARDS": str(shards), "REPLICAS": str(replicas)}
    return subprocess.run(["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=240)


def topology(addr: str) -> dict[str, tuple[str, str]]:
    """node id -> (role, slots) as the cluster sees it."""
    out = {}
    for line in cli(addr, "cluster", "nodes").splitlines():
        parts = line.split()
        role = "master" if "master" in parts[2] else "replica"
        out[parts[0]] = (role, " ".join(parts[8:]))
    return out


def wait_agreement(addrs: list[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        views = [topology(a) for a in addrs]
        if all(v == views[0] for v in views) and all(len(v) == len(addrs) for v in views):
            return
        time.sleep(0.2)
    raise AssertionError("nodes never agreed on the topology")


def test_creates_reruns_idempotently_and_grows_with_rebalance(nodes):
    first = nodes(6)
    done = run_init(first, shards=3, replicas=1)
    assert done.returncode == 0, done.stdout + done.stderr
    wait_agreement(first)
    view = topology(first[0])
    masters = [i for i, (role, slots) in view.items() if role == "master"]
    assert len(masters) == 3 and all(view[m][1] for m in masters)
    assert "cluster_state:ok" in cli(first[0], "cluster", "info")

    again = run_init(first, shards=3, replicas=1)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "creating" not in again.stdout and "adding" not in again.stdout
    assert topology(first[0]) == view

    grown = first + nodes(2)
    more = run_init(grown, shards=4, replicas=1)
    assert more.returncode == 0, more.stdout + more.stderr
    wait_agreement(grown)
    view = topology(first[0])
    masters = {i for i, (role, _) in view.items() if role == "master"}
    assert len(masters) == 4
    assert all(view[m][1] for m in masters), "every master, the new one too, must own slots"
    replicas_of = {}
    for line in cli(first[0], "cluster", "nodes").splitlines():
        parts = line.split()
        if "slave" in parts[2]:
            replicas_of[parts[3]] = replicas_of.get(parts[3], 0) + 1
    assert set(replicas_of) == masters and all(n == 1 for n in replicas_of.values())
    assert "cluster_state:ok" in cli(first[0], "cluster", "info")
