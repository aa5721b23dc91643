"""The launchers start real servers that answer, and stop_all leaves nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
import redis as redis_sync

from loadline.services import ServiceError, start_postgres, start_redis, stop_all
from loadline.services.pids import wait_gone
from loadline.services.ports import port_is_free


def test_postgres_accepts_the_password_url_over_tcp(postgres):
    res = subprocess.run(["psql", postgres.url, "-AXqtc", "select current_user || '@' || current_database()"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "loadline@loadline"


def test_postgres_refuses_a_wrong_password(postgres):
    wrong = postgres.url.replace(postgres.password, "not-the-password")
    res = subprocess.run(["psql", wrong, "-c", "select 1"], capture_output=True, text=True, timeout=30)
    assert res.returncode != 0
    assert "password authentication failed" in res.stderr


def test_redis_answers_and_keeps_data_until_stopped(tmp_path):
    r = start_redis(tmp_path / "redis")
    try:
        with r.client() as c:
            c.set("launcher-test", "1")
            assert c.get("launcher-test") == b"1"
        r.stop()
        assert not r.running and port_is_free(r.port)
        with pytest.raises(redis_sync.ConnectionError), r.client() as c:
            c.ping()
        r.start()  # same port, and a server with no persistence starts empty
        with r.client() as c:
            assert c.get("launcher-test") is None
    finally:
        stop_all(tmp_path / "redis")


def test_cluster_has_three_masters_with_a_replica_each(redis_cluster):
    assert len(redis_cluster.nodes) == 6
    assert len(redis_cluster.masters()) == 3
    with redis_cluster.nodes[0].client() as c:
        info = c.cluster("info")
    assert info["cluster_state"] == "ok"
    assert int(info["cluster_slots_assigned"]) == 16384
    assert int(info["cluster_known_nodes"]) == 6


def test_stop_all_from_another_process_stops_everything():
    wd = Path(tempfile.mkdtemp(prefix="loadline-test-stopall-", dir="/tmp"))
    wd.chmod(0o755)
    try:
        pg = start_postgres(wd)
        r = start_redis(wd)
        recorded = [json.loads(p.read_text())["pid"] for p in (wd / "pids").glob("*.json")]
        assert len(recorded) == 2 and all(psutil.pid_exists(p) for p in recorded)
        # A fresh interpreter knows nothing but the workdir, as after a crash.
        code = f"from loadline.services import stop_all; print(len(stop_all({str(wd)!r})))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == "2", out.stderr
        r.proc.wait(timeout=10)  # reap our own child so it is not left as a zombie
        # Exited (a zombie waiting for init to reap it counts as exited).
        assert all(wait_gone(p, 10) for p in recorded)
        assert port_is_free(pg.port) and port_is_free(r.port)
        assert list((wd / "pids").glob("*.json")) == []
    finally:
        stop_all(wd)
        subprocess.run(["rm", "-rf", str(wd)])


def test_an_unreachable_workdir_is_a_clear_error(tmp_path):
    # pytest's tmp dirs are 0700: the service user cannot enter them.
    import os
    if os.geteuid() != 0:
        pytest.skip("only root hands the data dir to the service user")
    with pytest.raises(ServiceError, match="postgres: the loadline-svc user cannot write"):
        start_postgres(tmp_path / "pg")
    assert stop_all(tmp_path / "pg") == []


def test_redis_failure_to_start_includes_the_log(tmp_path, redis):
    with pytest.raises(ServiceError, match="exited with"):
        start_redis(tmp_path, port=redis.port)  # port taken: the server logs why and exits
    assert redis_sync.Redis(port=redis.port).ping()


def test_cluster_ports_keep_their_bus_port_below_the_ephemeral_range():
    # Else a killed node may not get its bus port back: an outgoing connection can hold it.
    from loadline.services.ports import ephemeral_low, free_port
    ports = [free_port(also_free_offset=10000) for _ in range(200)]
    assert max(ports) + 10000 < ephemeral_low()
    assert max(free_port() for _ in range(200)) < ephemeral_low()
