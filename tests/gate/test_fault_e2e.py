"""The gate with faults on the real local environment: the plumbing, never this machine's speed.

Whether the targets are met depends on how busy the machine is; what must hold is that
every fault is injected and undone, the fault section is complete, every acknowledged
write is counted and read back, and the exit code follows `passed`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadline.local import processes
from loadline.services import pids

LOADLINE = str(Path(sys.executable).parent / "loadline")
FAULTS = ["api-worker-kill@3s:2s", "redis-primary-kill@7s:2s", "postgres-restart@12s:3s"]

pytestmark = pytest.mark.slow


def test_faults_are_injected_undone_and_reported(local_env_for_faults, tmp_path):
    state, wd = local_env_for_faults
    # A modest rate: the faults are judged here, not whether this machine offers production rate.
    args = [LOADLINE, "loadtest", "--stack", "local", "--duration", "30s", "--rps", "100", "--report", str(tmp_path)]
    for f in FAULTS:
        args += ["--fault", f]
    res = subprocess.run(args, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "LOADLINE_LOCAL_DIR": str(wd)})
    assert res.returncode in (0, 1), res.stdout + res.stderr
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert res.returncode == (0 if verdict["passed"] else 1)
    fault = verdict["fault"]
    assert set(fault) == {"passed", "targets", "injected", "writes", "failures"}
    assert fault["targets"] == {"max_error_ratio": 0.001, "max_recovery_seconds": 5, "max_lost_writes": 0}
    assert [f["spec"] for f in fault["injected"]] == FAULTS
    for f in fault["injected"]:
        assert f["started_s"] >= f["at_s"] - 0.5 and f["ended_s"] > f["started_s"]
        assert f["during"]["requests"] > 0 and f["target"] != "-"
        assert set(f["during"]) == {"start_s", "end_s", "requests", "failures", "error_ratio", "http_5xx",
                                    "http_503_retry_after", "p95_ms"}
    # Every create answered 201 was recorded, and read back from PostgreSQL.
    created = (tmp_path / "created-ids.txt").read_text().split()
    assert fault["writes"]["acknowledged"] == len(set(created)) > 0
    assert fault["writes"]["checked_in"] == "postgres"
    assert fault["writes"]["lost"] == 0, fault["writes"]
    # A missed fault target fails the run, and says so.
    assert fault["passed"] == (fault["failures"] == [])
    assert set(fault["failures"]) <= set(verdict["failures"])
    assert (tmp_path / "latency.png").stat().st_size > 0
    assert verdict["alerts"]["receiver"] == state["components"]["alertmanager"]["webhook_url"]
    # Everything the faults broke runs again, recorded where `local down` looks.
    assert processes.alive(wd, "api")
    assert all(pids.is_running(wd / "redis", p.stem) for p in (wd / "redis" / pids.PID_DIR).glob("*.json"))
    assert len(list((wd / "redis" / pids.PID_DIR).glob("*.json"))) == 1
    assert len(list((wd / "postgres" / pids.PID_DIR).glob("*.json"))) == 1
    assert all(pids.is_running(wd / "postgres", p.stem) for p in (wd / "postgres" / pids.PID_DIR).glob("*.json"))
