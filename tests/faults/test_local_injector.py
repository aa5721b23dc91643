"""Faults on real processes laid out as `loadline local up` lays them out, and their undoing.

Each test builds its own environment (the faults kill its processes) and checks what
`local down` relies on: after the restore, every process is recorded again, so stopping
what is recorded leaves nothing running.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis as redis_sync

from loadline.faults.local import LocalInjector
from loadline.faults.spec import parse_fault
from loadline.services import pids, start_postgres, start_redis, start_redis_cluster, stop_all


def _state(pg_url: str, redis_url: str, mode: str) -> dict:
    return {"components": {"postgres": {"url": pg_url}, "redis": {"mode": mode, "url": redis_url},
                           "api": {"workers": 2}}}


@pytest.fixture(scope="module")
def wd() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="loadline-test-faults-", dir="/tmp"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        for sub in ("redis", "postgres"):
            stop_all(d / sub)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(wd):
    return start_redis_cluster(wd / "redis", masters=3, replicas_per_master=1)


@pytest.fixture(scope="module")
def pg(wd):
    return start_postgres(wd / "postgres")


def _wait_cluster_whole(cluster) -> list[str]:
    deadline = time.monotonic() + 60
    while True:
        states = []
        for n in cluster.nodes:
            try:
                with n.client() as c:
                    states.append(c.cluster("info").get("cluster_state"))
            except redis_sync.RedisError:
                states.append("down")
        if states == ["ok"] * len(cluster.nodes) or time.monotonic() > deadline:
            return states
        time.sleep(0.2)


def _recorded_alive(workdir: Path, prefix: str = "") -> list[int]:
    out = []
    for f in sorted((workdir / pids.PID_DIR).glob(f"{prefix}*.json")):
        proc = pids.live_process(workdir, f.stem)
        if proc is not None:
            out.append(proc.pid)
    return out


def _ping(port: int, timeout: float = 1.0) -> bool:
    try:
        with redis_sync.Redis(host="127.0.0.1", port=port, socket_timeout=timeout,
                              socket_connect_timeout=timeout) as c:
            return bool(c.ping())
    except redis_sync.RedisError:
        return False


def test_standalone_kill_then_restore_is_recorded_again(wd):
    server = start_redis(wd / "redis")
    name = server.name
    old_pid = server.proc.pid
    inj = LocalInjector(wd, _state("postgresql://u:p@127.0.0.1:1/db", server.url, "standalone"))
    applied = inj.inject(parse_fault("redis-primary-kill@1s:1s"))
    assert applied.target == f"redis 127.0.0.1:{server.port}"
    assert not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == psutil.STATUS_ZOMBIE
    assert not _ping(server.port)
    applied.restore()
    assert _ping(server.port)
    alive = _recorded_alive(wd / "redis", name)
    assert len(alive) == 1 and alive[0] != old_pid
    assert pids.stop_recorded(wd / "redis", name)
    assert not psutil.pid_exists(alive[0]) or psutil.Process(alive[0]).status() == psutil.STATUS_ZOMBIE


def test_stall_stops_answers_until_restored(wd):
    server = start_redis(wd / "redis")
    inj = LocalInjector(wd, _state("postgresql://u:p@127.0.0.1:1/db", server.url, "standalone"))
    applied = inj.inject(parse_fault("redis-stall@1s:1s"))
    try:
        assert not _ping(server.port, timeout=0.5)
    finally:
        applied.restore()
    assert _ping(server.port)
    server.stop()


def _serving_masters(cluster) -> set[int]:
    with cluster.nodes[0].client() as c:
        nodes = c.execute_command("CLUSTER NODES")
    return {int(addr.rsplit(":", 1)[1]) for addr, n in nodes.items()
            if "master" in n["flags"] and "fail" not in n["flags"] and n["slots"]}


def test_cluster_primary_kill_hits_a_master_and_the_node_rejoins(wd, cluster):
    assert _wait_cluster_whole(cluster) == ["ok"] * 6
    inj = LocalInjector(wd, _state("postgresql://u:p@127.0.0.1:1/db", cluster.url, "cluster"))
    masters_before = _serving_masters(cluster)
    assert len(masters_before) == 3
    applied = inj.inject(parse_fault("redis-primary-kill@1s:1s"))
    killed = int(applied.target.rsplit(":", 1)[1])
    assert killed in masters_before
    assert not _ping(killed)
    applied.restore()
    assert _ping(killed)
    # Every node answers again and the cluster is whole (the old master now serves as a replica).
    assert _wait_cluster_whole(cluster) == ["ok"] * 6
    assert len(_recorded_alive(wd / "redis", "redis-cluster")) == 6


def test_cluster_all_kill_then_restore(wd, cluster):
    assert _wait_cluster_whole(cluster) == ["ok"] * 6
    inj = LocalInjector(wd, _state("postgresql://u:p@127.0.0.1:1/db", cluster.url, "cluster"))
    applied = inj.inject(parse_fault("redis-all-kill@1s:1s"))
    assert not any(_ping(n.port) for n in cluster.nodes)
    applied.restore()
    assert all(_ping(n.port) for n in cluster.nodes)
    assert _wait_cluster_whole(cluster) == ["ok"] * 6
    assert len(_recorded_alive(wd / "redis", "redis-cluster")) == 6


def test_postgres_restart_keeps_committed_rows(wd, pg):
    pg.psql("CREATE TABLE IF NOT EXISTS kept (v int); TRUNCATE kept; INSERT INTO kept VALUES (42)")
    inj = LocalInjector(wd, _state(pg.url, "redis://127.0.0.1:1/0", "standalone"))
    old_pid = pg.pid()
    applied = inj.inject(parse_fault("postgres-restart@1s:1s"))
    assert applied.target == f"postgres 127.0.0.1:{pg.port} (postmaster)"
    assert not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == psutil.STATUS_ZOMBIE
    applied.restore()
    assert pg.psql("SELECT v FROM kept").strip() == "42"
    assert _recorded_alive(wd / "postgres") == [pg.pid()]
