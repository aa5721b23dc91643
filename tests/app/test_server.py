"""`python -m app serve`: the production server, several workers, shared metrics, JSON logs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests

from tests.app.conftest import API_KEY
from tests.app.serve import serve


@pytest.fixture
def server(database_url, redis, tmp_path):
    with serve(database_url, redis.url, tmp_path, workers=2, ready_path="/healthz",
               PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom")) as served:
        yield served.proc, served.base, tmp_path


def test_workers_share_their_metrics_and_log_json_with_the_request_id(server):
    proc, base, tmp = server
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert len([w for w in workers if "python" in w.name()]) >= 2
    sent = 0
    deadline = time.monotonic() + 60
    # Until every worker has served (each writes its own histogram file): only then have both
    # opened their pool, and only then is the summed gauge below complete.
    while len(_workers_that_served(tmp / "prom")) < 2:
        assert time.monotonic() < deadline, "a worker never served a request"
        for _ in range(10):
            # A new connection each time, so both workers get some of the requests.
            resp = requests.get(f"{base}/v1/ping", headers={"X-Request-ID": f"probe-{sent}"}, timeout=10)
            assert resp.status_code == 200
            sent += 1
    # A request's duration is recorded just after its response is sent: the last one may lag.
    deadline = time.monotonic() + 10
    while True:
        text = requests.get(f"{base}/metrics", timeout=10).text
        count = next(line for line in text.splitlines()
                     if line.startswith("http_request_duration_seconds_count")
                     and 'route="/v1/ping"' in line)
        if float(count.split()[-1]) >= sent or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert float(count.split()[-1]) == float(sent)
    # Each worker reports its own pool limit (10); whichever worker serves /metrics sums both.
    pool_max = next(line for line in text.splitlines() if line.startswith("db_pool_connections_max "))
    assert float(pool_max.split()[-1]) == 20.0
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    lines = [json.loads(line) for line in (tmp / "server.log").read_text().splitlines() if line.startswith("{")]
    probe = [e for e in lines if e.get("request_id") == "probe-7"]
    assert probe and probe[0]["route"] == "/v1/ping" and probe[0]["status"] == 200
    # Helpers (multiprocessing's resource tracker) may take a moment after the parent exits.
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not [p for p in alive if _still_running(p)]


def _workers_that_served(prom_dir) -> set[str]:
    return {p.stem.rsplit("_", 1)[1] for p in prom_dir.glob("histogram_*.db")}


def _still_running(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_gauges_of_a_dead_worker_are_dropped(tmp_path, monkeypatch):
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess
    from prometheus_client.values import MultiProcessValue

    from app.metrics import forget_dead_workers

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    # A file as the dead worker would have left it: its pool limit, 10.
    value = MultiProcessValue(process_identifier=lambda: dead.pid)(
        "gauge", "db_pool_connections_max", "db_pool_connections_max", (), (), "", multiprocess_mode="livesum")
    value.set(10)
    assert list(tmp_path.glob(f"gauge_livesum_{dead.pid}.db"))
    forget_dead_workers()
    assert not list(tmp_path.glob(f"gauge_livesum_{dead.pid}.db"))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
    assert b"db_pool_connections_max 10.0" not in generate_latest(registry)


def test_the_production_server_exposes_every_metric_the_dashboards_and_rules_read(server):
    # components/monitoring/catalog.py is what render's query check trusts; this scrape keeps it honest.
    from prometheus_client.parser import text_string_to_metric_families

    from components.monitoring.catalog import SERVICE
    from tests.app.conftest import EVENT

    _, base, _ = server
    created = requests.post(f"{base}/v1/events", json=EVENT, headers={"X-API-Key": API_KEY}, timeout=10)
    assert created.status_code == 201, created.text
    for _ in range(2):  # a cache miss, then a hit
        assert requests.get(f"{base}/v1/events/{created.json()['id']}", timeout=10).status_code == 200
    text = requests.get(f"{base}/metrics", timeout=10).text
    exposed = {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
    assert sorted(SERVICE - exposed) == []
