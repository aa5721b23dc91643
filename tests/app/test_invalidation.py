"""A write through one worker reaches the L1 of the other, on real Redis (standalone and cluster).

The production server runs with two workers. Two keep-alive connections are pinned to
different workers (which worker holds a connection is read from the workers' sockets),
both workers cache a search page in their L1, then each round writes an event in that
page's range through worker A and polls worker B until the page shows it. The L1 TTL is
set far above the poll limit: a page that changes in time was invalidated, not expired.
The measured delays are printed (`pytest -s`); docs/service.md states the bound.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import psutil
import pytest

from loadline.services import free_port
from tests.app.conftest import API_KEY

ROUNDS = 5
POLL_LIMIT_S = 10.0
L1_TTL_S = 60


def _start(env: dict, log_path) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115  (the server writes to it until it stops)
    return subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture(params=["standalone", "cluster"])
def server(request, database_url, tmp_path) -> Iterator[tuple[subprocess.Popen, int]]:
    mode = request.param
    redis = request.getfixturevalue("redis" if mode == "standalone" else "redis_cluster")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTS_")}
    env.update(EVENTS_ENVIRONMENT="development", EVENTS_DATABASE_URL=database_url, EVENTS_REDIS_URL=redis.url,
               EVENTS_REDIS_MODE=mode, EVENTS_API_KEYS=API_KEY, EVENTS_HOST="127.0.0.1", EVENTS_PORT=str(port),
               EVENTS_WORKERS="2", EVENTS_ACCESS_LOG="false", EVENTS_CACHE_L1_TTL_SECONDS=str(L1_TTL_S),
               EVENTS_CACHE_SEARCH_TTL_SECONDS="300", EVENTS_RATE_LIMIT_PER_SECOND="100000",
               EVENTS_RATE_LIMIT_BURST="100000", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    proc = _start(env, tmp_path / "server.log")
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                break
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
        time.sleep(0.2)
    yield proc, port
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


def _worker_of(proc: subprocess.Popen, conn: http.client.HTTPConnection) -> int | None:
    """The pid of the worker that accepted this connection."""
    local_port = conn.sock.getsockname()[1]
    for worker in psutil.Process(proc.pid).children(recursive=True):
        try:
            for c in worker.net_connections(kind="tcp"):
                if c.raddr and c.raddr.port == local_port:
                    return worker.pid
        except psutil.Error:
            continue
    return None


def _pinned_pair(proc, port) -> tuple[http.client.HTTPConnection, http.client.HTTPConnection]:
    by_worker: dict[int, http.client.HTTPConnection] = {}
    extra = []
    for _ in range(200):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/healthz")  # accepted and served: the socket now belongs to a worker
        conn.getresponse().read()
        pid = _worker_of(proc, conn)
        if pid is not None and pid not in by_worker:
            by_worker[pid] = conn
        else:
            extra.append(conn)
        if len(by_worker) == 2:
            break
    for conn in extra:
        conn.close()
    assert len(by_worker) == 2, "no connection reached the second worker"
    a, b = by_worker.values()
    return a, b


def _call(conn, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    headers = {"X-API-Key": API_KEY, "Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def _l1_hits(conn) -> float:
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith('cache_requests_total{') and 'tier="l1"' in line and 'result="hit"' in line)


def test_a_write_reaches_the_other_workers_l1_within_the_bound(server):
    proc, port = server
    a, b = _pinned_pair(proc, port)
    # A day of its own: the database is shared by the session and the test may run in a loop.
    day = f"{random.randint(2035, 2099)}-{random.randint(1, 12):02d}-{random.randint(1, 28):02d}"
    window = {"starts_at": f"{day}T00:00:00Z", "ends_at": f"{day}T23:00:00Z"}
    path = "/v1/events/search?" + urlencode(window)
    delays = []
    for i in range(ROUNDS):
        # A worker's first subscription drops every page cached before it: retry until B keeps one.
        for _ in range(50):
            for conn in (a, b):
                assert _call(conn, "GET", path)[0] == 200
            hits = _l1_hits(b)
            assert _call(b, "GET", path)[0] == 200
            if _l1_hits(b) == hits + 1:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("worker B never served the page from its L1")
        status, created = _call(a, "POST", "/v1/events", {
            "title": f"round {i}", "venue": "Hall A", "starts_at": f"{day}T{10 + i:02d}:00:00Z",
            "ends_at": f"{day}T{10 + i:02d}:30:00Z", "capacity": 10})
        assert status == 201
        written = time.monotonic()
        assert created["id"] in [e["id"] for e in _call(a, "GET", path)[1]["items"]]  # the writer's own worker
        while True:
            items = _call(b, "GET", path)[1]["items"]
            if created["id"] in [e["id"] for e in items]:
                delays.append(time.monotonic() - written)
                break
            assert time.monotonic() - written < POLL_LIMIT_S, \
                f"worker B still serves the page without the write after {POLL_LIMIT_S} s"
    print(f"\ncross-worker invalidation: max {max(delays) * 1000:.1f} ms, "
          f"delays {[round(d * 1000, 1) for d in delays]} ms")
