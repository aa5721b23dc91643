"""The gate on the real local environment: one run meets the `local` targets, one cannot."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from loadline.local import env
from loadline.profile import load_profile

LOADLINE = str(Path(sys.executable).parent / "loadline")
VERDICT_KEYS = {"schemaVersion", "stack", "host", "passed", "targets", "measured", "per_endpoint", "failures"}
MEASURED_KEYS = {"p50_ms", "p95_ms", "p99_ms", "rps", "error_ratio", "requests", "failures"}
ENDPOINTS = {"GET /v1/events/search (hot window)", "GET /v1/events/search (cold window)",
             "GET /v1/events/{event_id}", "POST /v1/events"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_env():
    root = Path(tempfile.mkdtemp(prefix="loadline-test-gate-", dir="/tmp"))
    root.chmod(0o755)
    wd = root / "local"
    try:
        yield env.up(load_profile("local"), "local", wd, lambda _step: None), wd
    finally:
        env.down(wd)
        shutil.rmtree(root, ignore_errors=True)


def gate(local_env, report: Path, *extra):
    state, wd = local_env
    return subprocess.run([LOADLINE, "loadtest", "--stack", "local", "--duration", "15s",
                           "--report", str(report), *extra], capture_output=True, text=True,
                          timeout=180, env={**os.environ, "LOADLINE_LOCAL_DIR": str(wd)})


def test_gate_meets_local_targets(local_env, tmp_path):
    res = gate(local_env, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert set(verdict) == VERDICT_KEYS and set(verdict["measured"]) == MEASURED_KEYS
    assert verdict["passed"] is True and verdict["failures"] == []
    assert verdict["host"] == local_env[0]["api_url"]
    assert set(verdict["per_endpoint"]) == ENDPOINTS
    # The verdict counts every request Locust made, the final ones included.
    assert verdict["measured"]["requests"] == sum(e["requests"] for e in verdict["per_endpoint"].values())
    for name in ("report.html", "locust_stats.csv", "locust_stats_history.csv", "latency.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "PASSED" in res.stdout


def test_impossible_p95_exits_1(local_env, tmp_path):
    res = gate(local_env, tmp_path, "--p95-ms", "0.001")
    assert res.returncode == 1, res.stdout + res.stderr
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["passed"] is False
    assert verdict["targets"]["p95_ms"] == 0.001
    assert any(f.startswith("overall: p95") for f in verdict["failures"])
    assert f"verdict: {tmp_path / 'verdict.json'}" == res.stdout.strip().splitlines()[-1]


def test_wrong_api_key_cannot_run(local_env, tmp_path):
    res = gate(local_env, tmp_path, "--api-key", "not-the-key")
    assert res.returncode == 2
    assert "seeding" in res.stderr and "401" in res.stderr
