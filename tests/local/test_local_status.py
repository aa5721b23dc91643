"""`loadline local status` with real components stopped one by one: never a crash, each down
component named with its reason, the JSON shape kept, exit 1 while anything is down."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loadline.local import env, processes
from loadline.local import prometheus as prom
from loadline.local.state import write_state
from loadline.local.status import status
from loadline.profile import load_profile
from loadline.services import stop_all
from tests.local.helpers import eventually, processes_of, redis_down_alert

SHAPE = {"stack", "workdir", "api_url", "prometheus_url", "api_key_file", "components", "up"}


def _cli(*args, wd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "loadline"), *args], capture_output=True,
                          text=True, timeout=180, env={**os.environ, "LOADLINE_LOCAL_DIR": str(wd)})


def _crash(wd: Path, name: str) -> None:
    """SIGKILL a recorded process group, as a crash would: its pid file stays behind."""
    pid = json.loads((wd / processes.PIDS_DIR / f"{name}.json").read_text())["pid"]
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes.alive(wd, name) and time.monotonic() < deadline:
        time.sleep(0.05)


def _down(state: dict) -> dict[str, str]:
    return {n: c["reason"] for n, c in state["components"].items() if not c["up"]}


def _assert_cli_reports(wd: Path, down: set[str]) -> None:
    text = _cli("local", "status", wd=wd)
    assert text.returncode == 1 and "Traceback" not in text.stderr, text.stderr
    assert f"down: {', '.join(n for n in ('postgres', 'redis', 'api', 'prometheus', 'exporters') if n in down)}" \
        in text.stdout, text.stdout
    as_json = _cli("local", "status", "--json", wd=wd)
    assert as_json.returncode == 1, as_json.stderr
    state = json.loads(as_json.stdout)
    assert state.keys() >= SHAPE and state["up"] is False
    assert set(_down(state)) == down


@pytest.mark.slow
def test_each_stopped_component_is_shown_down_with_its_reason_then_down_leaves_nothing(local_env_to_break):
    # The session's shared environment, last of all its users: this test stops it piece by piece.
    _, wd = local_env_to_break
    state = status(wd)
    assert state["up"] is True and _down(state) == {}
    assert all(c["reason"] is None for c in state["components"].values())
    ok = _cli("local", "status", wd=wd)
    assert ok.returncode == 0 and "all up" in ok.stdout, ok.stdout + ok.stderr

    stop_all(wd / "redis")
    state = status(wd)
    assert set(_down(state)) == {"redis"}
    assert "1 of 1 Redis node(s) do not answer" in state["components"]["redis"]["reason"]
    # The API still serves (from PostgreSQL) and says what it misses.
    assert state["components"]["api"]["up"] and "redis" in state["components"]["api"]["reason"]
    _assert_cli_reports(wd, {"redis"})
    # Prometheus, scraping the exporter, sees the real outage with render's "down" alert.
    alert = redis_down_alert(prom.alert_rules(load_profile("local"))["groups"])
    assert eventually(state["prometheus_url"], alert), "redis_up never reported the stopped Redis"

    exporter = next(n for n in processes.names(wd) if n.startswith(env.EXPORTER_PREFIX))
    _crash(wd, exporter)
    assert f"not running: {exporter}" in status(wd)["components"]["exporters"]["reason"]

    _crash(wd, "prometheus")
    state = status(wd)
    assert state["components"]["prometheus"]["reason"].startswith("process not running")
    assert state["components"]["prometheus"]["scraping_api"] is False

    stop_all(wd / "postgres")
    state = status(wd)
    assert "nothing accepts connections" in state["components"]["postgres"]["reason"]
    # Ready no more without its database: /readyz answers 503, and status quotes it.
    assert "answered 503" in state["components"]["api"]["reason"]

    _crash(wd, "api")
    state = status(wd)
    assert state["components"]["api"]["reason"].startswith("process not running")
    _assert_cli_reports(wd, {"postgres", "redis", "api", "prometheus", "exporters"})

    # `down` stops whatever is left (Alertmanager, the other exporter) and forgets the rest.
    down = _cli("local", "down", wd=wd)
    assert down.returncode == 0, down.stdout + down.stderr
    assert processes_of(wd) == []
    assert _cli("local", "status", "--json", wd=wd).returncode == 1


def test_a_recorded_environment_with_nothing_running_never_crashes(tmp_path):
    # The shape `up` writes, but every process gone (a reboot): the former KeyError case.
    wd = tmp_path / "local"
    wd.mkdir()
    write_state(wd, {
        "stack": "local", "workdir": str(wd), "api_url": "http://127.0.0.1:9", "prometheus_url": "http://127.0.0.1:9",
        "api_key_file": str(wd / "api-key"),
        "components": {
            "postgres": {"url": "postgresql://u:p@127.0.0.1:9/db", "port": 9},
            "redis": {"mode": "cluster", "url": "redis://127.0.0.1:9,redis://127.0.0.1:11", "nodes": 2},
            "api": {"url": "http://127.0.0.1:9", "workers": 2},
            "prometheus": {"url": "http://127.0.0.1:9"},
            "exporters": {"redis": ["127.0.0.1:9"], "postgres": "127.0.0.1:9"},
            "something-newer": {"note": "a component this version does not know"},
        }})
    state = status(wd)
    assert state["up"] is False
    assert set(_down(state)) == {"postgres", "redis", "api", "prometheus", "exporters"}
    assert state["components"]["redis"]["reason"].startswith("2 of 2 Redis node(s) do not answer")
    assert state["components"]["exporters"]["reason"] == "no answer on 127.0.0.1:9; no answer on 127.0.0.1:9"
    text = _cli("local", "status", wd=wd)
    assert text.returncode == 1 and "Traceback" not in text.stderr, text.stderr
    assert "down: postgres, redis, api, prometheus, exporters" in text.stdout


def test_an_unreadable_state_file_is_reported_not_raised(tmp_path):
    wd = tmp_path / "local"
    wd.mkdir()
    (wd / "state.json").write_text("{not json")
    as_json = _cli("local", "status", "--json", wd=wd)
    assert as_json.returncode == 1 and "Traceback" not in as_json.stderr, as_json.stderr
    state = json.loads(as_json.stdout)
    assert state["up"] is False and state["components"] == {} and "unreadable state file" in state["reason"]


def test_nothing_recorded_keeps_its_shape_and_exit_code(tmp_path):
    as_json = _cli("local", "status", "--json", wd=tmp_path / "none")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout) == {"up": False, "api_url": None, "prometheus_url": None, "components": {}}


def test_a_redis_node_that_drops_connections_is_asked_once():
    # A status is asked for when something is down: retrying with back-off made each such
    # node cost seconds. A listener that accepts and hangs up counts the attempts.
    import socket
    import threading

    from loadline.local.status import _redis_node

    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        reason, info = _redis_node(f"redis://127.0.0.1:{server.getsockname()[1]}")
    finally:
        server.close()
    assert reason is not None and reason.endswith("ConnectionError") and info is None
    assert len(accepted) == 1
