"""The local PostgreSQL and Redis run with uid and gid >= 10000, as their containers do in the cluster."""

from __future__ import annotations

import os

import psutil
import pytest

from loadline.services import start_redis, stop_all
from loadline.services.users import MIN_ID, SERVICE_USER

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="without root the servers run as the invoking user")


def _ids(pid: int) -> set[int]:
    proc = psutil.Process(pid)
    return {*proc.uids(), *proc.gids()}


def test_postgres_and_every_backend_run_as_the_service_user(postgres):
    postgres.psql("select 1")
    server = psutil.Process(postgres.pid())
    assert server.username() == SERVICE_USER
    for proc in (server, *server.children(recursive=True)):
        assert min(_ids(proc.pid)) >= MIN_ID, proc
    assert os.stat(postgres.data_dir).st_uid >= MIN_ID


def test_redis_and_every_cluster_node_run_as_the_service_user(redis, redis_cluster):
    for server in (redis, *redis_cluster.nodes):
        assert psutil.Process(server.proc.pid).username() == SERVICE_USER
        assert min(_ids(server.proc.pid)) >= MIN_ID
        with server.client() as c:
            assert c.info("server")["process_id"] == server.proc.pid  # the recorded pid is the server itself


def test_redis_behind_a_private_directory_keeps_the_invoking_user(tmp_path):
    # pytest's tmp_path sits under a 0700 directory the service user cannot enter.
    server = start_redis(tmp_path / "redis")
    try:
        assert psutil.Process(server.proc.pid).uids().real == os.geteuid()
    finally:
        stop_all(tmp_path / "redis")
