"""Run the Locust suite headless against a host and judge the complete statistics.

Locust runs in a child process (`python -m locust`) so that its gevent
monkey-patching stays out of the `loadline` process. The locustfile's `quitting`
listener, which runs in that process after the last request, writes the
complete in-process statistics (`stats.json`); the verdict is computed from
them, never from the CSV, which lags the real totals.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from components.monitoring.config import API_JOB
from loadline.faults.schedule import FaultSchedule, Injection, Injector
from loadline.faults.spec import FaultSpec
from loadline.gate import arrival, evidence
from loadline.gate.alerts import AlertReceiver, ReceiverError, alerts_report
from loadline.gate.arrival import ArrivalPlan, GeneratorReport, PlanError
from loadline.gate.baseline import BaselineError, Samples, add_to_html_report, compare
from loadline.gate.baseline import read as read_baseline
from loadline.gate.baseline import save as save_baseline
from loadline.gate.decision import Decision, EndpointStats, RunStats, Targets, decide
from loadline.gate.evidence import ServerTargets, Window
from loadline.gate.fault_report import FaultReport, fault_report, fault_spans, latency_outside, steady_errors
from loadline.gate.host import HostError, check_host
from loadline.gate.verdict import LoadResult, ServerResult, Verdict
from loadline.gate.writes import WriteCheckError, acknowledged_ids, lost_in_postgres, lost_via_api
from loadline.profile import Profile, duration_seconds
from loadline.services.ports import free_port
from loadline.subprocesses import terminate
from loadtests.seed import SeedError, seed

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"
# Time Locust gets beyond its last stage to stop users and write its reports.
GRACE_S = 60
START_FILE = "load-start"
CREATED_FILE = "created-ids.txt"


def default_workers() -> int:
    """One Locust worker process per core: one process tops out at a few thousand requests/s."""
    return os.cpu_count() or 1


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
    rps: float | None = None
    duration_s: int | None = None
    allow_remote: bool = False
    seed_events: int = 200
    faults: list[FaultSpec] = field(default_factory=list)
    injector: Injector | None = None
    # Where acknowledged writes are read back (the local environment's database); None: the API.
    db_url: str | None = None
    # Where Alertmanager sends its notifications (the local environment's receiver); None: not recorded.
    alert_webhook: str | None = None
    # Locust worker processes under a master; 0 runs one process without a master.
    workers: int = 0
    # The stack's Prometheus, asked for the server's side of the run; None: none is known.
    prometheus_url: str | None = None
    # The HTTP session to ask it with (credentials for the API server's Service proxy); None: plain.
    prometheus_session: requests.Session | None = None
    # False only when the user opted out (--no-server-evidence): the verdict then says so.
    server_evidence: bool = True
    # The cache hit ratio the server must show; None: the profile's slo.cacheHitRatio.
    cache_hit_ratio: float | None = None
    # A baseline file to compare with (resolved beforehand), and where to keep this run as one.
    baseline_path: Path | None = None
    save_baseline_to: Path | None = None
    # Stop early once a target is clearly lost (10x its limit for 10 s), like k6's abortOnFail.
    abort_on_fail: bool = False
    # Runs the suite somewhere else, such as the in-cluster runner (loadline/envs/runner.py):
    # called with this run and the path to write the master's complete statistics to. The
    # load is then seeded and sent from there; None: Locust runs on this machine.
    remote: Callable[[GateRun, Path], None] | None = None
    plan: ArrivalPlan = field(init=False)

    def __post_init__(self) -> None:
        """Raises PlanError when the load cannot be offered by this generator."""
        load = self.profile.load
        if self.users is not None and self.rps is not None:
            raise PlanError("--users and --rps: give one or the other (closed or open model)")
        if self.users is not None:
            rps, users = None, self.users
        elif self.rps is not None:
            rps, users = self.rps, None
        else:
            rps, users = load.rps, load.users
        self.plan = arrival.plan(
            shape=load.shape, duration_s=self.duration_s or load.duration_s,
            p95_target_ms=self.targets.p95_ms, rps=rps, users=users,
            spawn_rate=load.spawn_rate or float(users or 1), min_rps=self.targets.min_rps,
            processes=max(1, self.workers))

    @property
    def stage_list(self) -> list[dict[str, Any]]:
        return self.plan.stages


def _entry(d: dict[str, Any]) -> EndpointStats:
    return EndpointStats(requests=d["requests"], failures=d["failures"], p50_ms=d["p50_ms"],
                         p95_ms=d["p95_ms"], p99_ms=d["p99_ms"], rps=d["rps"])


def read_stats(path: Path) -> tuple[RunStats, dict[str, Any]]:
    raw = json.loads(path.read_text())
    endpoints = {f"{e['method']} {e['name']}": _entry(e) for e in raw["endpoints"]}
    return RunStats(total=_entry(raw["total"]), endpoints=endpoints), raw


def suite_env(run: GateRun) -> dict[str, str]:
    """What the locustfile is told about the run's load: its stages, pacing and abort rule."""
    return {"LOADLINE_STAGES": json.dumps(run.stage_list),
            "LOADLINE_PACING": str(run.plan.per_user_rps or ""),
            "LOADLINE_ABORT": json.dumps({"max_error_ratio": run.targets.max_error_ratio,
                                          "p95_ms": run.targets.p95_ms}) if run.abort_on_fail else ""}


def _run_locust(run: GateRun, seed_file: Path, stats_file: Path,
                console: Console) -> list[Injection]:
    """Run the load (injecting the faults on schedule); returns what was injected."""
    out = run.report_dir
    env = {**os.environ,
           **suite_env(run),
           "LOADLINE_API_KEY": run.api_key,
           "LOADLINE_SEED_FILE": str(seed_file),
           "LOADLINE_STATS_OUT": str(stats_file),
           "LOADLINE_START_FILE": str(out / START_FILE)}
    if run.faults:
        env["LOADLINE_CREATED_OUT"] = str(out / CREATED_FILE)
    schedule = FaultSchedule(run.faults, run.injector, out / START_FILE) if run.faults and run.injector else None
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
           "--host", run.host, "--csv", str(out / "locust"), "--csv-full-history",
           "--html", str(out / "report.html"), "--only-summary", "--loglevel", "WARNING"]
    if run.workers > 0:
        # Locust's master binds 5557 unless told otherwise: two gates on one machine (or a
        # port still held by an earlier run) would then fail. A free loopback port each run.
        port = free_port()
        cmd += ["--processes", str(run.workers), "--master-bind-host", "127.0.0.1",
                "--master-bind-port", str(port), "--master-host", "127.0.0.1", "--master-port", str(port)]
    duration = run.plan.duration_s
    with open(out / "locust.log", "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=LOCUSTFILE.parent.parent)
        start = time.monotonic()
        if schedule is not None:
            schedule.start()
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
            # Whatever happens to the load, a broken component is restored before we go on.
            injections = schedule.finish() if schedule is not None else []
    if not stats_file.exists():
        tail = (out / "locust.log").read_text()[-2000:]
        raise GateError(f"Locust exited with code {proc.returncode} without statistics; "
                        f"its log ({out / 'locust.log'}) ends with:\n{tail}")
    return injections


# Every file a run writes into its report directory.
OUTPUTS = ("verdict.json", "stats.json", "latency.png", "report.html", "seed.json", "locust.log",
           "locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv",
           "locust_exceptions.csv")


def clear_outputs(report_dir: Path) -> None:
    """Remove an earlier run's outputs: a failed run must never sit beside another run's files."""
    for name in (*OUTPUTS, START_FILE, CREATED_FILE):
        (report_dir / name).unlink(missing_ok=True)


def run_gate(run: GateRun, console: Console) -> Verdict:
    """Check the host, seed, load, judge. Returns the verdict (also written to verdict.json).

    With `run.remote` the load is seeded and sent from there (a host this machine may not
    resolve); the statistics it brings back are judged here exactly like a local run's.
    """
    if run.remote is None:
        try:
            run.host = check_host(run.host, allow_remote=run.allow_remote)
        except HostError as exc:
            raise GateError(str(exc)) from None
    run.report_dir.mkdir(parents=True, exist_ok=True)
    clear_outputs(run.report_dir)
    stats_file = run.report_dir / "stats.json"
    seed_file = run.report_dir / "seed.json"
    if run.remote is None:
        try:
            seeded = seed(run.host, run.api_key, count=run.seed_events)
        except SeedError as exc:
            raise GateError(f"seeding {run.host} failed: {exc}") from None
        seed_file.write_text(json.dumps(seeded))
        console.print(f"seeded {len(seeded['ids'])} events; load shape "
                      f"{run.profile.load.shape}: {run.stage_list}")
    receiver = _alert_receiver(run)
    started = time.time()
    with receiver or nullcontext():
        if run.remote is None:
            injections = _run_locust(run, seed_file, stats_file, console)
        else:
            console.print(f"load shape {run.profile.load.shape}: {run.stage_list}")
            run.remote(run, stats_file)
            injections = []
            if not stats_file.exists():
                raise GateError(f"the runner brought back no statistics ({stats_file} is missing)")
    load_start = _load_start(run.report_dir)
    window = _server_window(run, load_start or started, time.time(), injections)
    stats, raw = read_stats(stats_file)
    alerts = None
    if receiver is not None and load_start is not None:
        alerts = alerts_report(receiver.notifications, receiver=receiver.url, load_start=load_start)
    # What the users were due comes from the master's count of running users each second:
    # a worker's own count can miss users stopped after its last report.
    generator = GeneratorReport(**{**raw["generator"], "due_iterations": arrival.due_from_history(
        raw.get("history", []), run.plan.per_user_rps)})
    not_offered = arrival.keep_up(run.plan, stats.total.requests, generator, faulted=bool(run.faults))
    if not_offered and not raw.get("aborted"):
        raise GateError(f"{not_offered}. This run did not happen: no verdict is written "
                        f"(statistics in {stats_file})")
    fault = _fault_report(run, injections, load_start, raw) if run.faults else None
    error_basis = None
    if fault is not None:
        failed, requests = steady_errors(raw.get("timeline", []), injections, fault)
        error_basis = ("outside the faults", failed, requests)
    latency_basis = _latency_basis(run, raw.get("timeline", []), load_start, injections, fault)
    decision = decide(run.targets, stats, error_basis=error_basis, latency_basis=latency_basis)
    shortfall = arrival.shortfall_failure(run.plan, stats.total.requests, generator)
    if shortfall:
        decision = Decision(False, [*decision.failures, shortfall])
    aborted = raw.get("aborted")
    if aborted:
        decision = Decision(False, [f"aborted at {aborted['at_s']:g} s (--abort-on-fail): {aborted['reason']}; "
                                    "the verdict covers the run so far", *decision.failures])
    server = _server(run, window, console)
    samples = Samples.from_stats(raw)
    compared = None
    if run.baseline_path is not None:
        try:
            compared = compare(read_baseline(run.baseline_path), p95_ms=stats.total.p95_ms, rps=round(stats.total.rps, 2),
                               samples=samples, max_regression_percent=run.profile.slo.max_regression_percent)
        except BaselineError as exc:
            raise GateError(str(exc)) from None
    verdict = Verdict.build(stack=run.stack, host=run.host, targets=run.targets, stats=stats,
                            decision=decision, fault=fault, alerts=alerts,
                            error_details=_error_details(raw, decision.passed and (fault is None or fault.passed)),
                            load=load_result(run, stats.total.requests, generator), server=server,
                            baseline=compared)
    verdict.write(run.report_dir / "verdict.json")
    if compared is not None:
        add_to_html_report(run.report_dir / "report.html", compared)
    if run.save_baseline_to is not None:
        try:
            console.print(f"baseline saved: {save_baseline(verdict, samples, run.save_baseline_to)}")
        except BaselineError as exc:
            console.print(f"[yellow]{exc}[/]")
    if raw.get("history"):
        # matplotlib loads slowly: only a run that has a history to draw imports it.
        from loadline.gate.plot import plot_history

        plot_history(raw["history"], run.report_dir / "latency.png", verdict)
    return verdict


def _alert_receiver(run: GateRun) -> AlertReceiver | None:
    if not run.alert_webhook:
        return None
    try:
        return AlertReceiver(run.alert_webhook)
    except ReceiverError as exc:
        raise GateError(str(exc)) from None


def _load_start(report_dir: Path) -> float | None:
    """The epoch time the suite started its load (it writes START_FILE), or None."""
    try:
        return float((report_dir / START_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _fault_report(run: GateRun, injections: list[Injection], load_start: float | None,
                  raw: dict[str, Any]) -> FaultReport:
    if load_start is None:
        raise GateError("the load never started (no start time from Locust); no fault was injected")
    # A fault that was not injected, or not undone, proves nothing: the run could not be judged.
    for inj in injections:
        if inj.error:
            raise GateError(f"--fault {inj.spec.text}: {inj.error}")
    missing = [s.text for s in run.faults[len(injections):]]
    if missing:
        raise GateError(f"--fault {missing[0]}: never injected; the load ended first (see {run.report_dir / 'locust.log'})")
    ids = acknowledged_ids(run.report_dir / CREATED_FILE)
    try:
        lost = lost_in_postgres(ids, run.db_url) if run.db_url else lost_via_api(ids, run.host)
    except WriteCheckError as exc:
        raise GateError(f"checking acknowledged writes: {exc}") from None
    return fault_report(injections, load_start=load_start, timeline=raw.get("timeline", []),
                        targets=run.targets, fault_targets=run.profile.slo.faults,
                        acknowledged=len(ids), lost_ids=lost,
                        checked_in="postgres" if run.db_url else "api")


def _server(run: GateRun, window: Window | None, console: Console) -> ServerResult:
    if not run.server_evidence:
        return evidence.unavailable("not asked (--no-server-evidence)", url=run.prometheus_url, judged=False)
    scrape_s = duration_seconds(run.profile.monitoring.scrape_interval)
    if window is None:
        return evidence.unavailable(
            "nothing left to judge: the first fault starts before the warm-up ends and a scrape "
            f"interval ({scrape_s:g} s) has passed; start the fault later", url=run.prometheus_url)
    with console.status("asking Prometheus for the server's side of the run"):
        return evidence.gather(
            run.prometheus_url, API_JOB, window, scrape_s,
            ServerTargets(p95_ms=run.targets.p95_ms, p99_ms=run.targets.p99_ms,
                          max_error_ratio=run.targets.max_error_ratio,
                          cache_hit_ratio=run.profile.slo.cache_hit_ratio if run.cache_hit_ratio is None
                          else run.cache_hit_ratio), session=run.prometheus_session)


def _server_window(run: GateRun, start: float, end: float, injections: list[Injection]) -> Window | None:
    """The window the server's evidence judges: after the warm-up, and in a fault run only the
    steady part before the first fault, ending a scrape interval early so that no scrape taken
    inside the fault counts (the fault section judges the fault and what follows it)."""
    start += run.profile.load.warmup_seconds
    started = [inj.started_at for inj in injections if inj.started_at is not None]
    if started:
        end = min(end, min(started) - duration_seconds(run.profile.monitoring.scrape_interval))
        if end - start < 1:
            return None
    return Window(start, max(start, end))


def _latency_basis(run: GateRun, timeline: list[dict[str, Any]], load_start: float | None,
                   injections: list[Injection], fault: FaultReport | None) -> tuple[str, RunStats] | None:
    """The part of the run whose latency the p95/p99 targets judge, when it is not the whole run:
    after the warm-up (load.warmupSeconds) and outside each fault and its recovery."""
    spans: list[tuple[float, float]] = []
    where: list[str] = []
    warmup = run.profile.load.warmup_seconds
    if warmup and load_start is not None:
        spans.append((-math.inf, math.floor(load_start) + warmup))
        where.append(f"after the {warmup} s warm-up")
    if fault is not None:
        spans += fault_spans(injections, fault)
        where.append("outside the faults")
    return (", ".join(where), latency_outside(timeline, spans)) if spans else None


def load_result(run: GateRun, requests: int, generator: GeneratorReport) -> LoadResult:
    """What was offered next to what was achieved, and how the generator fared."""
    plan = run.plan
    due = arrival.offered_requests(plan, generator)
    offered = None if due is None else due / plan.duration_s
    return LoadResult(
        model=plan.model, target_rps=plan.target_rps,
        offered_rps=None if offered is None else round(offered, 2),
        achieved_rps=round(requests / plan.duration_s, 2), users=plan.users,
        per_user_rps=None if plan.per_user_rps is None else round(plan.per_user_rps, 4),
        duration_s=plan.duration_s, warmup_s=run.profile.load.warmup_seconds, workers=run.workers,
        generator_cpu_warning=generator.cpu_warning, late_ratio=round(generator.late_ratio, 6))


def _error_details(raw: dict[str, Any], passed: bool) -> list[str]:
    """The most frequent request errors, so a failed verdict says what went wrong."""
    if passed:
        return []
    errors = sorted(raw.get("errors", []), key=lambda e: -e["occurrences"])[:3]
    return [f"{e['method']} {e['name']}: {e['occurrences']}x {e['error']}" for e in errors]
