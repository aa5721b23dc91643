"""`loadline local`: real PostgreSQL, Redis, API and Prometheus on loopback, and nothing left after `down`."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
import yaml

from components.monitoring import catalog
from components.monitoring.dashboard import dashboard
from loadline.local import env, exporters, processes
from loadline.local import prometheus as prom
from loadline.local.state import read_api_key
from loadline.local.status import NOT_RUNNING, status
from loadline.profile import load_profile
from loadline.render.queries import panel_queries
from tests.local.helpers import eventually, processes_of, query, redis_down_alert


def _cli(*args, wd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "loadline"), *args], capture_output=True,
                          text=True, timeout=180, env={**os.environ, "LOADLINE_LOCAL_DIR": str(wd)})


@pytest.fixture
def wd():
    # PostgreSQL runs as the postgres user: its directories must be traversable.
    root = Path(tempfile.mkdtemp(prefix="loadline-test-local-", dir="/tmp"))
    root.chmod(0o755)
    yield root / "local"
    env.down(root / "local")
    shutil.rmtree(root, ignore_errors=True)


def test_up_brings_every_component_ready(local_env):
    # The shared environment came up through `loadline local up` (tests/fixtures/local_env.py).
    state, wd = local_env
    status = _cli("local", "status", "--json", wd=wd)
    assert status.returncode == 0, status.stdout
    state = json.loads(status.stdout)
    assert {"api_url", "prometheus_url", "components"} <= state.keys()
    assert set(state["components"]) == {"postgres", "redis", "api", "prometheus", "exporters", "alertmanager"}
    assert all(c["up"] for c in state["components"].values())
    # The API runs migrated, with the generated key; Prometheus has exactly render's rules.
    key = read_api_key(wd)
    created = requests.post(f"{state['api_url']}/v1/events", headers={"X-API-Key": key}, timeout=5, json={
        "title": "t", "venue": "v", "starts_at": "2030-01-01T10:00:00Z",
        "ends_at": "2030-01-01T11:00:00Z", "capacity": 5})
    assert created.status_code == 201, created.text
    rules = requests.get(f"{state['prometheus_url']}/api/v1/rules", timeout=5).json()["data"]["groups"]
    expected = prom.alert_rules(load_profile("local"))["groups"]
    assert sorted(r["name"] for g in rules for r in g["rules"]) == \
        sorted(r.get("alert") or r["record"] for g in expected for r in g["rules"])
    assert processes_of(wd)
    # Prometheus sends its alerts to the local Alertmanager, which is ready.
    am_url = state["components"]["alertmanager"]["url"]
    assert _alertmanagers(state["prometheus_url"]) == [am_url]
    assert requests.get(f"{am_url}/-/ready", timeout=5).status_code == 200
    assert state["components"]["alertmanager"]["webhook_url"].startswith("http://127.0.0.1:")

    # The exporters are scraped under render's job names; the "down" alerts stay quiet while all
    # is up (tests/local/test_local_status.py sees them fire on a real outage).
    prom_url = state["prometheus_url"]
    assert eventually(prom_url, 'redis_up{job="redis"} == 1')
    assert eventually(prom_url, 'pg_up{job="postgres"} == 1')
    assert not query(prom_url, redis_down_alert(expected))
    _dashboard_queries_run_on(prom_url, expected)


def _alertmanagers(prom_url: str, timeout_s: float = 30) -> list[str]:
    """The Alertmanagers Prometheus sends to, once it has discovered them (it does so in the background)."""
    deadline = time.monotonic() + timeout_s
    while True:
        data = requests.get(f"{prom_url}/api/v1/alertmanagers", timeout=5).json()["data"]
        found = [a["url"].split("/api/")[0] for a in data["activeAlertmanagers"]]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _dashboard_queries_run_on(prom_url: str, rules: list) -> None:
    """The real Prometheus, scraping the real API and exporters with render's rules, accepts every
    dashboard query, and the series the catalog promises (recorded ones included) show up."""
    board = dashboard(load_profile("local"))
    for title, ref, expr in panel_queries(board):
        resp = requests.get(f"{prom_url}/api/v1/query", params={"query": expr}, timeout=5)
        assert resp.status_code == 200 and resp.json()["status"] == "success", (title, ref, expr, resp.text)
    expected = catalog.SERVICE | catalog.EXPORTERS["redis"] | catalog.EXPORTERS["postgres"] | \
        catalog.recorded({"groups": rules})
    deadline = time.monotonic() + 60
    while True:
        resp = requests.get(f"{prom_url}/api/v1/label/__name__/values", timeout=5)
        missing = expected - set(resp.json()["data"])
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert sorted(missing) == []


def test_failed_up_leaves_nothing_behind(wd, monkeypatch):
    # Prometheus exits at once: `up` must fail at that step and stop what it had started.
    monkeypatch.setattr(prom, "command", lambda *a: ["false"])
    with pytest.raises(env.LocalError, match="Prometheus exited before it was ready"):
        env.up(load_profile("local"), "local", wd, lambda _step: None)
    assert processes_of(wd) == []
    assert status(wd) == NOT_RUNNING


def test_missing_exporter_is_named_and_nothing_is_left(wd, monkeypatch):
    monkeypatch.setattr(exporters, "missing", lambda: ["prometheus-redis-exporter"])
    with pytest.raises(env.LocalError, match=r"not installed: prometheus-redis-exporter; run `make setup`"):
        env.up(load_profile("local"), "local", wd, lambda _step: None)
    assert processes_of(wd) == []
    assert status(wd) == NOT_RUNNING


def test_second_up_is_refused_while_one_is_recorded(wd):
    (wd / processes.PIDS_DIR).mkdir(parents=True)
    (wd / "state.json").write_text("{}")
    with pytest.raises(env.LocalError, match="already recorded"):
        env.up(load_profile("local"), "local", wd, lambda _step: None)


def test_stop_takes_the_whole_process_group(tmp_path):
    processes.spawn(tmp_path, "tree", ["sh", "-c", "sleep 60 & sleep 60 & wait"], env=dict(os.environ),
                    log=tmp_path / "log", cwd=tmp_path)
    assert processes.alive(tmp_path, "tree")
    # The shell forks its two children a moment after it starts.
    deadline = time.monotonic() + 10
    while len(processes_of(tmp_path)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(processes_of(tmp_path)) == 3
    assert processes.stop(tmp_path, "tree")
    assert processes_of(tmp_path) == []
    assert processes.names(tmp_path) == []


def test_prometheus_config_is_render_config_with_loopback_targets(tmp_path):
    profile = load_profile("local")
    path = prom.write_config(profile, tmp_path, api_target="127.0.0.1:1234", listen="127.0.0.1:9999",
                             redis_targets=["127.0.0.1:1"], postgres_targets=["127.0.0.1:2"])
    config = yaml.safe_load(path.read_text())
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["loadline-api"]["static_configs"] == [{"targets": ["127.0.0.1:1234"]}]
    assert jobs["prometheus"]["static_configs"] == [{"targets": ["127.0.0.1:9999"]}]
    assert config["rule_files"] == [str(tmp_path / "rules.yml")]
    # The dependency-down alerts run on a fault's time scale; nothing else differs from render's.
    assert jobs["redis"]["scrape_interval"] == jobs["postgres"]["scrape_interval"] == "1s"
    assert jobs["loadline-api"]["scrape_interval"] == profile.monitoring.scrape_interval
    local = yaml.safe_load((tmp_path / "rules.yml").read_text())
    rendered = prom.alert_rules(profile)
    shortened = []
    for got, want in zip(local["groups"], rendered["groups"], strict=True):
        if want["name"] == prom.DEPENDENCY_GROUP:
            assert got.pop("interval") == "1s"
        for rule, original in zip(got["rules"], want["rules"], strict=True):
            if rule.get("for") != original.get("for"):
                shortened.append((rule["alert"], original["for"], rule["for"]))
                rule["for"] = original["for"]
    assert shortened == [("LoadlineRedisDown", "2m", "5s"), ("LoadlinePostgresDown", "2m", "5s")]
    assert local == rendered


def test_local_down_alerts_wait_the_profiles_fault_recovery_time():
    profile = load_profile("local")
    assert prom.local_for(profile) == "5s"  # slo.faults.maxRecoverySeconds defaults to 5
    slower = profile.model_copy(update={"slo": profile.slo.model_copy(
        update={"faults": profile.slo.faults.model_copy(update={"max_recovery_seconds": 2.5})})})
    assert prom.local_for(slower) == "2500ms"
