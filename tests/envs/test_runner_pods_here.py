"""The runner's rendered pods, run as processes on this machine against the real local environment.

There is no cluster here, so the two Jobs' containers are started as they are rendered
(the same `locust` arguments and environment, the suite laid out as the ConfigMap
mounts it, the API key as a file) with only what a cluster provides swapped for loopback:
the master's address, the API's address and the mount paths. The master's log is then
read exactly as the in-cluster runner reads a pod's log, and judged by the gate.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from components.locust_runner import ROLE_LABEL, SECRETS, SUITE_ROOT
from loadline.envs.config import generate_config, write_stack_file
from loadline.envs.runner import stats_from_log
from loadline.gate.entry import GateOptions, judge
from loadline.gate.runner import suite_env
from loadline.local.state import read_api_key
from loadline.profile import STACKS_DIR, load_profile
from loadline.render import render_stack
from loadline.services.ports import free_port

pytestmark = pytest.mark.slow
CREATED = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    stacks = tmp_path_factory.mktemp("render") / "stacks"
    shutil.copytree(STACKS_DIR, stacks)
    write_stack_file(generate_config("pr-3", "dev", owner="jane@example.com", created=CREATED,
                                     expires=CREATED + timedelta(hours=24), stacks_dir=stacks), stacks)
    result = render_stack("pr-3", stacks_dir=stacks)
    jobs = {m["metadata"]["labels"][ROLE_LABEL]: m for m in result.manifests
            if m["kind"] == "Job" and ROLE_LABEL in m["metadata"]["labels"]}
    suite = next(m for m in result.manifests if m["kind"] == "ConfigMap" and m["metadata"]["name"].endswith("-suite"))
    return jobs, suite, load_profile("pr-3", stacks)


def _pod_process(job, *, root: Path, api: str, master_port: int, run_env: dict[str, str],
                 log: Path) -> subprocess.Popen:
    """One Job's container as a process: its args and env, with the cluster's addresses on loopback."""
    c = job["spec"]["template"]["spec"]["containers"][0]
    swaps = {SUITE_ROOT: str(root / "suite"), SECRETS: str(root / "secrets"), "/tmp": str(root / "tmp")}

    def here(value: str) -> str:
        for old, new in swaps.items():
            if value == old or value.startswith(old + "/"):
                return new + value[len(old):]
        return value

    args = [here(a) for a in c["args"]]
    for flag, value in (("--host", api), ("--master-host", "127.0.0.1"), ("--master-port", str(master_port)),
                        ("--master-bind-port", str(master_port))):
        if flag in args:
            args[args.index(flag) + 1] = value
    env = {e["name"]: here(e["value"]) for e in c["env"]}
    env.update(run_env)
    # The image's entrypoint is `locust`; the interpreter of this venv has the same Locust.
    return subprocess.Popen([sys.executable, "-m", "locust", *args], stdout=log.open("w"),
                            stderr=subprocess.STDOUT, env={"PATH": os.environ["PATH"], **env}, cwd=root)


def test_the_rendered_master_and_workers_run_the_suite_and_the_gate_judges_the_masters_log(
        local_env, rendered, tmp_path):
    state, wd = local_env
    jobs, suite, profile = rendered
    (tmp_path / "suite" / "loadtests").mkdir(parents=True)
    for name, text in suite["data"].items():
        (tmp_path / "suite" / "loadtests" / name).write_text(text)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "api-key").write_text(f"{read_api_key(wd)},another-key")
    (tmp_path / "tmp").mkdir()
    workers = jobs["worker"]["spec"]["parallelism"]
    seen = {}

    def pods_here(run, stats_file):
        port = free_port()
        env = {k: v for k, v in suite_env(run).items() if v}
        logs = {role: tmp_path / f"{role}.log" for role in ("master", "worker-0", "worker-1")}
        master = _pod_process(jobs["master"], root=tmp_path, api=state["api_url"], master_port=port,
                              run_env=env, log=logs["master"])
        procs = [master] + [_pod_process(jobs["worker"], root=tmp_path, api=state["api_url"], master_port=port,
                                         run_env=env, log=logs[f"worker-{i}"]) for i in range(workers)]
        try:
            master.wait(timeout=run.plan.duration_s + 120)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
                    p.wait(timeout=30)
        seen["master_exit"] = master.returncode
        seen["logs"] = {role: path.read_text() for role, path in logs.items()}
        stats = stats_from_log(seen["logs"]["master"])
        assert stats is not None, "\n".join(f"--- {role}:\n{text[-2000:]}" for role, text in seen["logs"].items())
        stats_file.write_text(json.dumps(stats))

    options = GateOptions(stack="pr-3", host=state["api_url"], report=tmp_path / "report", duration="15s",
                          users=4, p95_ms=60000, p99_ms=60000, min_rps=0, max_error_ratio=1, cache_hit_ratio=0,
                          server_evidence=False, remote=pods_here, profile=profile, workers=workers)
    result = judge(options, Console(width=200))
    assert seen["master_exit"] == 0, seen["logs"]["master"][-3000:]
    assert "LOADLINE-STATS {" in seen["logs"]["master"]
    verdict = result.verdict
    assert verdict.passed, verdict.failures
    raw = json.loads((tmp_path / "report" / "stats.json").read_text())
    # Every request went through the workers; with their own seeded data, reads found their events.
    assert raw["total"]["requests"] > 0
    gets = next(e for e in raw["endpoints"] if e["name"] == "/v1/events/{event_id}")
    assert gets["requests"] > 0 and gets["failures"] == 0
    creates = next(e for e in raw["endpoints"] if e["name"] == "/v1/events" and e["method"] == "POST")
    assert creates["requests"] > 0 and creates["failures"] == 0  # the key file's first key is accepted
    out = json.loads((tmp_path / "report" / "verdict.json").read_text())
    assert out["load"]["workers"] == workers and out["load"]["model"] == "closed"
