"""The in-cluster runner's client side, against a fake Kubernetes API server (no cluster here).

The templates are the real rendered Jobs of a review stack; the run is judged by the
gate's own code, from the statistics the fake master "prints".
"""

from __future__ import annotations

import copy
import json
import shutil
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from rich.console import Console

from components.locust_runner import ROLE_LABEL
from loadline.envs import lifecycle
from loadline.envs.config import generate_config, write_stack_file
from loadline.envs.registry import EnvRecord, Registry
from loadline.envs.runner import RUN_LABEL, InClusterRunner, RunnerError, api_client, run_job, stats_from_log
from loadline.profile import STACKS_DIR
from loadline.render import render_stack
from tests.envs.fake_kube_api import FakeCluster, FakeKubeApi

NAME = "pr-9"
NS = f"review-{NAME}"
API_URL = f"http://loadline-api.{NS}.svc.cluster.local"
CREATED = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
TOKEN = "t0ken-for-the-fake-api"


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """The review stack's rendered runner Jobs, by role."""
    stacks = tmp_path_factory.mktemp("render") / "stacks"
    shutil.copytree(STACKS_DIR, stacks)
    write_stack_file(generate_config(NAME, "dev", owner="jane@example.com", created=CREATED,
                                     expires=CREATED + timedelta(hours=24), stacks_dir=stacks), stacks)
    result = render_stack(NAME, stacks_dir=stacks)
    return {m["metadata"]["labels"][ROLE_LABEL]: m for m in result.manifests
            if m["kind"] == "Job" and ROLE_LABEL in m["metadata"]["labels"]}


def raw_stats(*, requests=1800, failures=0, p95=80.0, duration=60):
    """What the suite's master prints when it quits (loadtests/locustfile.py), for a steady run."""
    entry = {"method": "", "name": "Aggregated", "requests": requests, "failures": failures,
             "p50_ms": p95 / 2, "p95_ms": p95, "p99_ms": p95 * 1.5, "rps": requests / duration}
    per_second = {str(1_700_000_000 + s): requests // duration for s in range(duration)}
    return {"total": entry, "endpoints": [{**entry, "method": "GET", "name": "/v1/events/{id}"}],
            "errors": [], "history": [{"t": float(t), "users": 10, "rps": requests / duration,
                                       "p50_ms": p95 / 2, "p95_ms": p95, "p99_ms": p95 * 1.5}
                                      for t in range(1, duration + 1)],
            "aborted": None, "timeline": [],
            "generator": {"cpu_warning": False, "iterations": requests, "late_iterations": 0, "due_iterations": 0},
            "response_times": {str(int(p95 / 2)): int(requests * 0.9), str(int(p95)): requests - int(requests * 0.9)},
            "reqs_per_sec": per_second, "start_time": 1_700_000_000.0, "last_request_time": 1_700_000_060.0}


def master_log(stats):
    return ("[2026-11-24 14:00:01] WARNING/locust.main: --run-time ... ignored\n"
            f"LOADLINE-STATS {json.dumps(stats)}\n"
            "Type     Name   # reqs   # fails\n")


@pytest.fixture
def cluster(templates):
    c = FakeCluster(master_log=master_log(raw_stats()), prometheus_requests=1800)
    for job in templates.values():
        c.add_template(job)
    return c


@pytest.fixture
def env(home, cluster, monkeypatch):
    """A finished review env NAME whose kubeconfig points at the fake API server."""
    stacks = home / "stacks"
    write_stack_file(generate_config(NAME, "dev", owner="jane@example.com", created=CREATED,
                                     expires=datetime.now(UTC) + timedelta(hours=1), stacks_dir=stacks), stacks)
    now = datetime.now(UTC)
    Registry().claim(EnvRecord(name=NAME, from_stack="dev", owner="jane", created=now,
                               expires=now + timedelta(hours=1), backend="file:///nowhere", finished=True,
                               api_url=API_URL))
    monkeypatch.setattr(lifecycle, "_report_dir", lambda name: home / "reports" / name)
    with FakeKubeApi(cluster) as url:
        kubeconfig = home / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
            "clusters": [{"name": "fake", "cluster": {"server": url}}],
            "users": [{"name": "u", "user": {"token": TOKEN}}]}))
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        yield home


def gate(home):
    return lifecycle.gate(NAME, None, Console(width=200, record=True))


def test_a_run_copies_the_templates_judges_the_masters_statistics_and_removes_its_jobs(env, cluster):
    assert gate(env) == "pass"
    created = cluster.created()
    assert [j["metadata"]["labels"][ROLE_LABEL] for j in created] == ["master", "worker"]
    run_ids = {j["metadata"]["labels"][RUN_LABEL] for j in created}
    assert len(run_ids) == 1
    # Both run Jobs are gone again, and the suspended templates stay.
    assert sorted(cluster.deleted) == sorted(j["metadata"]["name"] for j in created)
    assert {j["metadata"]["name"] for j in cluster.jobs.values()} == {"loadline-loadtest-master",
                                                                       "loadline-loadtest-worker"}
    # Every call carried the kubeconfig's credentials.
    assert [r["path"] for r in cluster.requests if r["headers"].get("authorization") != f"Bearer {TOKEN}"] == []

    report = env / "reports" / NAME
    verdict = json.loads((report / "verdict.json").read_text())
    assert verdict["passed"] is True and verdict["host"] == API_URL
    assert verdict["load"]["workers"] == 2  # the profile's load.runner.workers
    assert verdict["load"]["achieved_rps"] == 30.0
    assert "LOADLINE-STATS" in (report / "locust.log").read_text()
    assert json.loads((report / "stats.json").read_text())["total"]["requests"] == 1800
    # The server's evidence came through the API server's Service proxy, not a port-forward.
    server = verdict["server"]
    assert server["available"] is True and server["requests"] == 1800
    assert server["prometheus_url"].endswith(
        f"/api/v1/namespaces/{NS}/services/http:loadline-monitoring-prometheus:9090/proxy")
    assert Registry().get(NAME).last_verdict == "pass"


def test_the_run_differs_from_its_template_only_in_what_a_run_sets(env, cluster, templates):
    assert gate(env) == "pass"
    for job in cluster.created():
        role = job["metadata"]["labels"][ROLE_LABEL]
        tpl = templates[role]
        assert job["metadata"]["name"].startswith(tpl["metadata"]["name"] + "-")
        assert "pulumi.com/skipAwait" not in job["metadata"]["annotations"]
        assert "selector" not in job["spec"]
        assert not {"controller-uid", "job-name"} & set(job["spec"]["template"]["metadata"]["labels"])
        spec, tpl_spec = copy.deepcopy(job["spec"]), copy.deepcopy(tpl["spec"])
        assert spec.pop("suspend") is False and tpl_spec.pop("suspend") is True
        assert spec.pop("activeDeadlineSeconds") == 60 + 300  # dev's 60 s of load + grace
        tpl_spec.pop("activeDeadlineSeconds")
        assert spec.pop("ttlSecondsAfterFinished") == 600
        assert "selector" not in spec
        env_vars = {e["name"]: e["value"] for e in spec["template"]["spec"]["containers"][0].pop("env")}
        tpl_env = {e["name"]: e["value"] for e in tpl_spec["template"]["spec"]["containers"][0].pop("env")}
        assert json.loads(env_vars.pop("LOADLINE_STAGES"))[-1]["users"] == 10  # dev: 10 users, closed model
        assert env_vars == tpl_env
        assert spec["template"]["metadata"]["labels"].pop(RUN_LABEL) == job["metadata"]["labels"][RUN_LABEL]
        assert spec == tpl_spec


def test_a_missed_target_in_the_cluster_is_a_missed_verdict(env, cluster):
    cluster.master_log = master_log(raw_stats(p95=900.0))
    assert gate(env) == "missed"
    verdict = json.loads((env / "reports" / NAME / "verdict.json").read_text())
    assert verdict["passed"] is False
    assert any("p95" in f and "900" in f for f in verdict["failures"])
    assert len(cluster.deleted) == 2


@pytest.mark.parametrize("outcome, log, message", [
    ("fail", "Gave up waiting for workers to connect\n", "the master Job failed (BackoffLimitExceeded"),
    ("succeed", "Traceback: ImportError: no module named loadtests\n", "finished without printing its statistics"),
])
def test_a_run_without_statistics_is_an_error_and_still_cleaned_up(env, cluster, capsys, outcome, log, message):
    cluster.outcome, cluster.master_log = outcome, log
    assert gate(env) == "error"
    err = capsys.readouterr().err
    assert message in err and log.strip() in err
    assert len(cluster.deleted) == 2
    assert not (env / "reports" / NAME / "verdict.json").exists()


def test_a_stack_without_the_runner_says_how_to_get_one(env, cluster, capsys):
    cluster.jobs.clear()
    assert gate(env) == "error"
    err = capsys.readouterr().err
    assert f"no Locust runner in {NS}" in err and "load.runner.inCluster" in err and "--via port-forward" in err
    assert cluster.created() == []


def test_a_second_run_while_one_is_going_on_is_refused(env, cluster, templates, capsys):
    running = run_job(copy.deepcopy(templates["master"]), "older1", {}, 360)
    running["metadata"]["labels"][RUN_LABEL] = "older1"
    cluster.add_template(running)
    assert gate(env) == "error"
    assert "a load run is already going on" in capsys.readouterr().err
    assert cluster.created() == []


def test_a_refused_create_is_reported_with_the_api_servers_reason(env, cluster, capsys):
    cluster.refuse_create = True
    assert gate(env) == "error"
    assert "403 Forbidden: jobs.batch is forbidden" in capsys.readouterr().err


def test_a_run_past_its_deadline_is_stopped_and_removed(env, cluster, templates, tmp_path):
    from loadline.gate.decision import Targets
    from loadline.gate.runner import GateRun
    from loadline.profile import load_profile

    cluster.outcome = "never"
    ticks = iter(range(0, 10_000, 100))
    profile = load_profile(NAME, env / "stacks")
    run = GateRun(stack=NAME, profile=profile, host=API_URL, report_dir=tmp_path, api_key="",
                  targets=Targets.from_slo(profile.slo), workers=2)
    runner = InClusterRunner(namespace=NS, client=api_client(), poll_s=0, clock=lambda: float(next(ticks)))
    with pytest.raises(RunnerError, match=r"did not finish within 360 s; its Jobs are deleted"):
        runner(run, tmp_path / "stats.json")
    assert len(cluster.deleted) == 2 and not (tmp_path / "stats.json").exists()


def test_an_unknown_via_is_refused(env):
    with pytest.raises(lifecycle.EnvError, match="--via: 'tunnel' is not one of runner, port-forward"):
        lifecycle.gate(NAME, None, Console(), via="tunnel")


def test_stats_line_is_found_among_other_output():
    assert stats_from_log(master_log({"total": 1})) == {"total": 1}
    assert stats_from_log("no stats here\n") is None
    assert stats_from_log("LOADLINE-STATS {not json\n") is None
