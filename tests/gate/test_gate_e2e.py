"""The gate's plumbing on the real local environment: verdict, reports and exit codes.

Speed is not judged here (a busy machine would fail it; `make bench-app` prints figures):
the passing run uses targets no machine could miss, the failing one a target none can meet.
"""

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from loadline.cli import app
from loadline.envs.config import GENERATED_MARKER
from loadline.envs.registry import EnvRecord, Registry
from loadline.profile import PROFILE_KEY, REPO_ROOT, STACKS_DIR
from tests.verdict_schema import assert_valid_verdict

LOADLINE = str(Path(sys.executable).parent / "loadline")
VERDICT_KEYS = {"schemaVersion", "stack", "host", "passed", "targets", "measured", "per_endpoint", "failures", "fault",
                "alerts", "load", "server", "baseline"}
LOAD_KEYS = {"model", "target_rps", "offered_rps", "achieved_rps", "users", "per_user_rps", "duration_s",
             "warmup_s", "workers", "generator_cpu_warning", "late_ratio"}
MEASURED_KEYS = {"p50_ms", "p95_ms", "p99_ms", "rps", "error_ratio", "requests", "failures"}
ENDPOINTS = {"GET /v1/events/search (hot window)", "GET /v1/events/search (cold window)",
             "GET /v1/events/{event_id}", "POST /v1/events"}

pytestmark = pytest.mark.slow


def gate(local_env, report: Path, *extra):
    state, wd = local_env
    return subprocess.run([LOADLINE, "loadtest", "--stack", "local", "--duration", "15s",
                           "--report", str(report), *extra], capture_output=True, text=True,
                          timeout=180, env={**os.environ, "LOADLINE_LOCAL_DIR": str(wd)})


# A rate any machine offers (the profile's production rate is `make demo`'s to meet);
# any latency up to a minute, any throughput, every request failed: still a pass.
MODEST = ("--rps", "40")
UNMISSABLE = (*MODEST, "--p95-ms", "60000", "--p99-ms", "60000", "--min-rps", "0", "--max-error-ratio", "1",
              "--cache-hit-ratio", "0")


@pytest.mark.parametrize("workers", ["0", "2"])
def test_gate_passes_unmissable_targets_with_a_complete_verdict(local_env, tmp_path, workers):
    res = gate(local_env, tmp_path, *UNMISSABLE, "--workers", workers)
    assert res.returncode == 0, res.stdout + res.stderr
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert_valid_verdict(verdict)
    assert set(verdict) == VERDICT_KEYS and set(verdict["measured"]) == MEASURED_KEYS
    load = verdict["load"]
    assert set(load) == LOAD_KEYS and load["model"] == "open" and load["target_rps"] == 40
    assert load["workers"] == int(workers) and load["offered_rps"] > 0 and load["achieved_rps"] > 0
    assert "load: offered" in res.stdout
    # The server's own evidence, from the local Prometheus, for the same window.
    server = verdict["server"]
    assert server["available"] is True and server["prometheus_url"] == local_env[0]["prometheus_url"]
    assert server["requests"] > 0 and server["p95_ms"] is not None and server["cache_lookups"] > 0
    assert {"GET /v1/events/search", "GET /v1/events/{event_id}", "POST /v1/events"} <= set(server["per_route"])
    assert server["window_end"] > server["window_start"] and server["failures"] == []
    assert "server: p95" in res.stdout
    assert verdict["passed"] is True and verdict["failures"] == []
    assert verdict["targets"] == {"p95_ms": 60000, "p99_ms": 60000, "min_rps": 0, "max_error_ratio": 1}
    assert verdict["stack"] == "local"
    # The gate heard from the local Alertmanager, and in a clean run nothing fired.
    assert verdict["alerts"]["receiver"] == local_env[0]["components"]["alertmanager"]["webhook_url"]
    assert verdict["alerts"]["fired"] == []
    assert verdict["host"] == local_env[0]["api_url"]
    assert set(verdict["per_endpoint"]) == ENDPOINTS
    # The verdict counts every request Locust made, the final ones included.
    assert verdict["measured"]["requests"] == sum(e["requests"] for e in verdict["per_endpoint"].values())
    for name in ("report.html", "locust_stats.csv", "locust_stats_history.csv", "latency.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "PASSED" in res.stdout
    assert res.stdout.strip().splitlines()[-1] == f"verdict: {tmp_path / 'verdict.json'}"


def test_impossible_p95_exits_1(local_env, tmp_path):
    res = gate(local_env, tmp_path, *MODEST, "--min-rps", "0", "--p95-ms", "0.001")
    assert res.returncode == 1, res.stdout + res.stderr
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert set(verdict) == VERDICT_KEYS
    assert verdict["passed"] is False
    assert verdict["targets"]["p95_ms"] == 0.001
    assert any(f.startswith("overall: p95") for f in verdict["failures"])
    assert f"verdict: {tmp_path / 'verdict.json'}" == res.stdout.strip().splitlines()[-1]


def test_a_load_the_generator_cannot_offer_exits_2(local_env, tmp_path):
    res = gate(local_env, tmp_path, "--rps", "50000", "--workers", "1")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "load generator processes" in res.stderr and "--workers" in res.stderr
    assert not (tmp_path / "verdict.json").exists()


def test_unreachable_prometheus_fails_the_run_and_says_so(local_env, tmp_path):
    from loadline.services import free_port
    res = gate(local_env, tmp_path, *UNMISSABLE, "--prometheus", f"http://127.0.0.1:{free_port()}")
    assert res.returncode == 1, res.stdout + res.stderr
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["server"]["available"] is False and "unreachable" in verdict["server"]["reason"]
    assert any(f.startswith("server: no evidence") for f in verdict["failures"])


def test_a_saved_baseline_is_compared_with_the_next_run(local_env, tmp_path, monkeypatch):
    # Whether this pair regresses depends on the machine; the plumbing does not.
    env_dir = tmp_path / "baselines"
    monkeypatch.setenv("LOADLINE_BASELINE_DIR", str(env_dir))
    first = gate(local_env, tmp_path / "first", *UNMISSABLE, "--save-baseline")
    assert first.returncode == 0, first.stdout + first.stderr
    saved = list((env_dir / "local").glob("baseline-*.json"))
    assert len(saved) == 1 and "baseline saved:" in first.stdout
    second = gate(local_env, tmp_path / "second", *UNMISSABLE, "--baseline", "last")
    assert second.returncode in (0, 1), second.stdout + second.stderr
    verdict = json.loads((tmp_path / "second" / "verdict.json").read_text())
    assert_valid_verdict(verdict)
    b = verdict["baseline"]
    assert b["path"] == str(saved[0]) and [r["metric"] for r in b["rows"]] == ["p95_ms", "rps"]
    assert all(r["p_value"] is not None for r in b["rows"])
    assert second.returncode == (0 if verdict["passed"] else 1)
    assert "against the baseline" in second.stdout
    assert 'id="loadline-baseline"' in (tmp_path / "second" / "report.html").read_text()


def test_abort_on_fail_stops_a_lost_run_early_with_the_verdict_so_far(local_env, tmp_path):
    state, wd = local_env
    res = subprocess.run([LOADLINE, "loadtest", "--stack", "local", "--duration", "90s", "--report", str(tmp_path),
                          *MODEST, "--min-rps", "0", "--p95-ms", "0.001", "--abort-on-fail"],
                         capture_output=True, text=True, timeout=180,
                         env={**os.environ, "LOADLINE_LOCAL_DIR": str(wd)})
    assert res.returncode == 1, res.stdout + res.stderr
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["failures"][0].startswith("aborted at ") and "--abort-on-fail" in verdict["failures"][0]
    aborted_at = float(verdict["failures"][0].split()[2])
    assert aborted_at < 60  # stopped early, not at the end of the 90 s run
    assert verdict["measured"]["requests"] > 0


def test_wrong_api_key_cannot_run(local_env, tmp_path):
    res = gate(local_env, tmp_path, "--api-key", "not-the-key")
    assert res.returncode == 2
    assert "seeding" in res.stderr and "401" in res.stderr


@pytest.fixture
def review_stack(request):
    """A review stack file beside the shipped ones (as `env up` writes it), removed afterwards."""
    made = []

    def make(name: str, *, p95_ms: float, min_rps: float, max_error_ratio: float) -> str:
        doc = yaml.safe_load((STACKS_DIR / "Pulumi.local.yaml").read_text())
        profile = doc["config"][PROFILE_KEY]
        profile["slo"].update(p95Ms=p95_ms, minRps=min_rps, maxErrorRatio=max_error_ratio)
        profile["slo"].pop("p99Ms", None)
        profile["slo"].pop("cacheHitRatio", None)
        profile["load"].update(duration="5s", rps=40, warmupSeconds=0)
        path = STACKS_DIR / f"Pulumi.{name}.yaml"
        path.write_text(GENERATED_MARKER + "\n" + yaml.safe_dump(doc))
        made.append(path)
        return name
    yield make
    for path in made:
        path.unlink(missing_ok=True)
        shutil.rmtree(REPO_ROOT / "reports" / "envs" / path.name[len("Pulumi."):-len(".yaml")],
                      ignore_errors=True)


def test_env_gate_records_each_verdict(local_env, tmp_path, monkeypatch, review_stack):
    state, wd = local_env
    monkeypatch.setenv("LOADLINE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LOADLINE_LOCAL_DIR", str(wd))  # the gate finds the local API key there
    now = datetime.now(UTC)
    outcomes = {}
    for name, slo, code in [
        (review_stack("e2e-meets", p95_ms=60000, min_rps=0, max_error_ratio=1), "unmissable", 0),
        (review_stack("e2e-misses", p95_ms=0.001, min_rps=0, max_error_ratio=1), "impossible", 1),
    ]:
        Registry().save(EnvRecord(name=name, from_stack="local", owner="ci", created=now,
                                  expires=now + timedelta(hours=1), backend="file:///nowhere",
                                  finished=True, api_url=state["api_url"]))
        res = CliRunner().invoke(app, ["env", "gate", name, "--host", state["api_url"]])
        assert res.exit_code == code, (slo, res.output)
        outcomes[name] = Registry().get(name)
    meets, misses = outcomes["e2e-meets"], outcomes["e2e-misses"]
    assert (meets.last_verdict, misses.last_verdict) == ("pass", "missed")
    for rec in (meets, misses):
        assert rec.verdict_at >= now
        verdict = json.loads((Path(rec.report_dir) / "verdict.json").read_text())
        assert verdict["stack"] == rec.name and set(verdict) == VERDICT_KEYS
        assert verdict["passed"] is (rec.last_verdict == "pass")
