"""Redis entirely gone (every cluster node SIGKILLed) or hung (SIGSTOP), under requests: no 5xx,
/readyz 200 reporting `redis: degraded`, every acknowledged write kept, and the cache back in use
once Redis returns.

These tests break a cluster of their own, so the session's cluster stays whole for the others.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from loadline.services import RedisCluster, RedisServer, start_redis_cluster, stop_all
from tests.app.conftest import API_KEY, EVENT, create, make_settings, metric, running

BREAKER = {"redis_breaker_threshold": 3, "redis_breaker_base_seconds": 0.2, "redis_breaker_max_seconds": 1.0,
           "redis_timeout_seconds": 0.1}
RECOVERY_DEADLINE_S = 60
WINDOW = {"starts_at": "2035-01-01T00:00:00Z", "ends_at": "2035-01-02T00:00:00Z"}


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory) -> Iterator[RedisCluster]:
    wd = tmp_path_factory.mktemp("outage-cluster")
    cluster = start_redis_cluster(wd, masters=3, replicas_per_master=1)
    yield cluster
    for node in cluster.nodes:
        resume(node)
    cluster.stop()
    stop_all(wd)


def pause(node: RedisServer) -> None:
    os.kill(node.proc.pid, signal.SIGSTOP)


def resume(node: RedisServer) -> None:
    if node.running:
        os.kill(node.proc.pid, signal.SIGCONT)


class Load:
    """Reads and writes from a second thread while the test breaks Redis; every answer is kept."""

    def __init__(self, client, event_id: str, max_requests: int = 5000):
        self.client, self.event_id, self.max_requests = client, event_id, max_requests
        self.statuses: Counter[int] = Counter()
        self.written: list[str] = []
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set() and self.sent < self.max_requests:
            i = self.sent
            if i % 10 == 9:
                resp = self.client.post("/v1/events", headers={"X-API-Key": API_KEY}, json={
                    **EVENT, "title": f"outage-{i}", "starts_at": "2035-01-01T10:00:00Z",
                    "ends_at": "2035-01-01T11:00:00Z"})
                if resp.status_code == 201:
                    self.written.append(resp.json()["id"])
            elif i % 2:
                resp = self.client.get("/v1/events/search", params=WINDOW)
            else:
                resp = self.client.get(f"/v1/events/{self.event_id}")
            self.statuses[resp.status_code] += 1
            self.sent += 1

    def wait_for(self, more: int) -> None:
        """Until `more` further requests were answered (bounded by max_requests)."""
        target = min(self.sent + more, self.max_requests)
        deadline = time.monotonic() + RECOVERY_DEADLINE_S
        while self.sent < target and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.02)
        assert self.sent >= target, f"the load stalled at {self.sent} requests"

    @contextmanager
    def running(self) -> Iterator[Load]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=RECOVERY_DEADLINE_S)


def assert_degraded_not_failing(client, load: Load, before: dict[str, float]) -> None:
    assert not [s for s in load.statuses if s >= 500], load.statuses
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "degraded" and body["checks"] == {"postgres": "ok", "redis": "degraded"}
    assert body["redis_breaker"] in ("open", "half-open")
    assert metric(client, "redis_breaker_trips_total") > before["trips"]
    assert metric(client, "rate_limit_fail_open_total") > before["fail_open"]
    assert metric(client, "redis_breaker_state") in (1, 2)


def assert_recovers(client, event_id: str) -> None:
    """The breaker closes and reads hit the cache again, without anything restarting the app."""
    deadline = time.monotonic() + RECOVERY_DEADLINE_S
    while time.monotonic() < deadline:
        ready = client.get("/readyz").json()
        client.get(f"/v1/events/{event_id}")
        hits = metric(client, "cache_requests_total", result="hit")
        assert client.get(f"/v1/events/{event_id}").status_code == 200
        if ready["checks"]["redis"] == "ok" and metric(client, "cache_requests_total", result="hit") == hits + 1:
            assert metric(client, "redis_breaker_state") == 0
            return
        time.sleep(0.2)
    raise AssertionError(f"the cache was not back in use {RECOVERY_DEADLINE_S} s after Redis returned")


def assert_no_write_lost(client, load: Load) -> None:
    assert load.written, "no write was acknowledged during the run"
    missing = [i for i in load.written if client.get(f"/v1/events/{i}").status_code != 200]
    assert missing == [], f"{len(missing)} of {len(load.written)} acknowledged writes lost"


def counters(client) -> dict[str, float]:
    return {"trips": metric(client, "redis_breaker_trips_total"),
            "fail_open": metric(client, "rate_limit_fail_open_total")}


def survives(client, *, event_at: str, break_redis: Callable[[], None], restore_redis: Callable[[], None],
             answered_while_broken: int, degraded: bool = True, whole_again: Callable[[], object] | None = None,
             ) -> None:
    """Load, break Redis, keep loading, restore it; no 5xx at any point, the cache back in use,
    and every acknowledged write kept. DEGRADED: /readyz must say so while Redis is broken."""
    event = create(client, starts_at=event_at, ends_at="2035-01-01T09:00:00Z")
    before = counters(client)
    with Load(client, event["id"]).running() as load:
        load.wait_for(50)
        try:
            break_redis()
            load.wait_for(answered_while_broken)
            if degraded:
                assert_degraded_not_failing(client, load, before)
        finally:
            restore_redis()
        if whole_again is not None:
            whole_again()
        assert_recovers(client, event["id"])
        load.wait_for(50)
    assert not [s for s in load.statuses if s >= 500], load.statuses
    assert_no_write_lost(client, load)


def each(action: Callable[[RedisServer], object], nodes: list[RedisServer]) -> Callable[[], None]:
    def run() -> None:
        for node in nodes:
            action(node)
    return run


def cluster_settings(database_url, cluster: RedisCluster):
    return make_settings(database_url, cluster.url.split(","), redis_mode="cluster", **BREAKER)


def test_whole_cluster_killed_under_requests_then_back(database_url, own_cluster):
    with running(cluster_settings(database_url, own_cluster)) as client:
        survives(client, event_at="2035-01-01T08:00:00Z", answered_while_broken=100,
                 break_redis=each(RedisServer.kill, own_cluster.nodes),
                 restore_redis=each(RedisServer.start, own_cluster.nodes),
                 whole_again=lambda: own_cluster.wait_ok(expect_masters=3))


def test_whole_cluster_hung_under_requests_then_back(database_url, own_cluster):
    with running(cluster_settings(database_url, own_cluster)) as client:
        survives(client, event_at="2035-01-01T08:30:00Z", answered_while_broken=40,
                 break_redis=each(pause, own_cluster.nodes), restore_redis=each(resume, own_cluster.nodes),
                 whole_again=lambda: own_cluster.wait_ok(expect_masters=3))


def test_one_cluster_master_hung_under_requests_then_back(database_url, own_cluster):
    # A hung master answers nothing but keeps its sockets open: every call to its slots waits for
    # the timeout, until its replica takes over. Resumed, it rejoins as a replica.
    victim = own_cluster.masters()[0]
    with running(cluster_settings(database_url, own_cluster)) as client:
        survives(client, event_at="2035-01-01T06:00:00Z", answered_while_broken=60, degraded=False,
                 break_redis=lambda: pause(victim), restore_redis=lambda: resume(victim),
                 whole_again=lambda: own_cluster.wait_ok(expect_masters=3))


def test_standalone_hung_under_requests_then_back(app_factory, redis):
    with app_factory(**BREAKER) as client:
        survives(client, event_at="2035-01-01T07:00:00Z", answered_while_broken=40,
                 break_redis=lambda: pause(redis), restore_redis=lambda: resume(redis))
