"""Run the Locust suite headless against a host and judge the complete statistics.

Locust runs in a child process (`python -m locust`) so that its gevent
monkey-patching stays out of the `loadline` process. The locustfile's `quitting`
listener, which runs in that process after the last request, writes the
complete in-process statistics (`stats.json`); the verdict is computed from
them, never from the CSV, which lags the real totals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from loadline.gate.decision import EndpointStats, RunStats, Targets, decide
from loadline.gate.host import HostError, check_host
from loadline.gate.plot import plot_history
from loadline.gate.verdict import Verdict
from loadline.profile import Profile
from loadline.subprocesses import terminate
from loadtests.seed import SeedError, seed
from loadtests.stages import stages, total_duration

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"
# Time Locust gets beyond its last stage to stop users and write its reports.
GRACE_S = 60


class GateError(Exception):
    """The gate could not run (exit 2). The message says why."""


@dataclass
class GateRun:
    stack: str
    profile: Profile
    host: str
    report_dir: Path
    api_key: str
    targets: Targets
    users: int | None = None
    duration_s: int | None = None
    allow_remote: bool = False
    seed_events: int = 200
    stage_list: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        load = self.profile.load
        self.stage_list = stages(load.shape, users=self.users or load.users,
                                 spawn_rate=load.spawn_rate,
                                 duration_s=self.duration_s or load.duration_s)


def _entry(d: dict) -> EndpointStats:
    return EndpointStats(requests=d["requests"], failures=d["failures"], p50_ms=d["p50_ms"],
                         p95_ms=d["p95_ms"], p99_ms=d["p99_ms"], rps=d["rps"])


def read_stats(path: Path) -> tuple[RunStats, dict]:
    raw = json.loads(path.read_text())
    endpoints = {f"{e['method']} {e['name']}": _entry(e) for e in raw["endpoints"]}
    return RunStats(total=_entry(raw["total"]), endpoints=endpoints), raw


def _run_locust(run: GateRun, seed_file: Path, stats_file: Path, console: Console) -> None:
    out = run.report_dir
    env = {**os.environ,
           "LOADLINE_STAGES": json.dumps(run.stage_list),
           "LOADLINE_API_KEY": run.api_key,
           "LOADLINE_SEED_FILE": str(seed_file),
           "LOADLINE_STATS_OUT": str(stats_file)}
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
           "--host", run.host, "--csv", str(out / "locust"), "--csv-full-history",
           "--html", str(out / "report.html"), "--only-summary", "--loglevel", "WARNING"]
    duration = total_duration(run.stage_list)
    with open(out / "locust.log", "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=LOCUSTFILE.parent.parent)
        start = time.monotonic()
        try:
            with Progress(TextColumn("[bold]load[/] {task.description}"), BarColumn(),
                          TimeRemainingColumn(), console=console, transient=True) as bar:
                task = bar.add_task(f"{run.stack} @ {run.host}", total=duration)
                while proc.poll() is None:
                    elapsed = time.monotonic() - start
                    bar.update(task, completed=min(elapsed, duration))
                    if elapsed > duration + GRACE_S:
                        break
                    time.sleep(0.5)
        finally:
            # Locust writes its statistics on SIGTERM too; kill only if it ignores it.
            terminate(proc, grace_s=15)
    if not stats_file.exists():
        tail = (out / "locust.log").read_text()[-2000:]
        raise GateError(f"Locust exited with code {proc.returncode} without statistics; "
                        f"its log ({out / 'locust.log'}) ends with:\n{tail}")


def run_gate(run: GateRun, console: Console) -> Verdict:
    """Check the host, seed, load, judge. Returns the verdict (also written to verdict.json)."""
    try:
        run.host = check_host(run.host, allow_remote=run.allow_remote)
    except HostError as exc:
        raise GateError(str(exc)) from None
    run.report_dir.mkdir(parents=True, exist_ok=True)
    # A verdict left from an earlier run must never be mistaken for this one's.
    for name in ("verdict.json", "stats.json", "latency.png", "report.html"):
        (run.report_dir / name).unlink(missing_ok=True)
    stats_file = run.report_dir / "stats.json"
    seed_file = run.report_dir / "seed.json"
    try:
        seeded = seed(run.host, run.api_key, count=run.seed_events)
    except SeedError as exc:
        raise GateError(f"seeding {run.host} failed: {exc}") from None
    seed_file.write_text(json.dumps(seeded))
    console.print(f"seeded {len(seeded['ids'])} events; load shape "
                  f"{run.profile.load.shape}: {run.stage_list}")
    _run_locust(run, seed_file, stats_file, console)
    stats, raw = read_stats(stats_file)
    decision = decide(run.targets, stats)
    verdict = Verdict.build(stack=run.stack, host=run.host, targets=run.targets, stats=stats,
                            decision=decision, error_details=_error_details(raw, decision.passed))
    verdict.write(run.report_dir / "verdict.json")
    if raw.get("history"):
        plot_history(raw["history"], run.report_dir / "latency.png", verdict)
    return verdict


def _error_details(raw: dict, passed: bool) -> list[str]:
    """The most frequent request errors, so a failed verdict says what went wrong."""
    if passed:
        return []
    errors = sorted(raw.get("errors", []), key=lambda e: -e["occurrences"])[:3]
    return [f"{e['method']} {e['name']}: {e['occurrences']}x {e['error']}" for e in errors]
