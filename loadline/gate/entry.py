"""The gate as one call: options as a user gives them, in; the typed verdict, out.

`loadline loadtest`, `loadline demo` and review environments (`loadline/envs`) all come
through `judge`, so they resolve defaults and refuse bad options the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from rich.console import Console

from loadline.faults.local import InjectionError
from loadline.faults.setup import is_local_host, prepare
from loadline.faults.spec import FaultSpecError
from loadline.gate.arrival import PlanError
from loadline.gate.baseline import BaselineError
from loadline.gate.baseline import resolve as resolve_baseline
from loadline.gate.decision import Targets
from loadline.gate.runner import GateError, GateRun, default_workers, run_gate
from loadline.gate.summary import print_summary
from loadline.gate.verdict import Verdict
from loadline.local.state import read_api_key, read_state, workdir
from loadline.profile import REPO_ROOT, Profile, ProfileError, duration_seconds, load_profile
from loadtests.stages import total_duration

__all__ = ["GateError", "GateOptions", "GateResult", "judge", "resolve"]


@dataclass(frozen=True)
class GateOptions:
    """What `loadline loadtest` accepts; None means the profile's (or the environment's) value."""

    stack: str
    host: str | None = None
    report: Path | None = None
    duration: str | None = None
    users: int | None = None
    rps: float | None = None
    # Locust worker processes under a master; None: the core count; 0: one process.
    workers: int | None = None
    # The stack's Prometheus; None: the local environment's when the host is its API.
    prometheus: str | None = None
    server_evidence: bool = True
    cache_hit_ratio: float | None = None
    # "last" (the stack's newest saved baseline) or a path; None: no comparison.
    baseline: str | None = None
    save_baseline: bool = False
    abort_on_fail: bool = False
    # Where baselines are kept, one directory per stack; None: LOADLINE_BASELINE_DIR or reports/baselines.
    baseline_dir: Path | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    min_rps: float | None = None
    max_error_ratio: float | None = None
    api_key: str | None = None
    allow_remote: bool = False
    local_dir: Path | None = None
    # A caller that has already read the stack's profile passes it, so it is read once.
    profile: Profile | None = None
    # --fault SPECs (docs/loadtest.md#faults) and the kubeconfig context for a cluster's.
    faults: tuple[str, ...] = ()
    kube_context: str | None = None
    # Runs the suite elsewhere (the in-cluster runner, `GateRun.remote`): the host is then
    # the API's address there, and the runner reads the API key where it runs.
    remote: Callable[[GateRun, Path], None] | None = None
    # The session `prometheus` is asked with (the API server's Service proxy needs credentials).
    prometheus_session: requests.Session | None = None


@dataclass(frozen=True)
class GateResult:
    verdict: Verdict
    path: Path


def _check_bounds(options: GateOptions) -> None:
    if options.users is not None and options.users < 1:
        raise GateError("--users: must be >= 1")
    if options.rps is not None and options.rps <= 0:
        raise GateError(f"--rps: must be > 0, got {options.rps:g}")
    if options.users is not None and options.rps is not None:
        raise GateError("--users and --rps: give one or the other (closed or open model)")
    if options.workers is not None and options.workers < 0:
        raise GateError(f"--workers: must be >= 0 (0: one process, no master), got {options.workers}")
    for opt, value in (("--p95-ms", options.p95_ms), ("--p99-ms", options.p99_ms),
                       ("--min-rps", options.min_rps)):
        if value is not None and value < 0:
            raise GateError(f"{opt}: must be >= 0, got {value:g}")
    ratio = options.max_error_ratio
    if ratio is not None and not 0 <= ratio <= 1:
        raise GateError(f"--max-error-ratio: must be between 0 and 1, got {ratio:g}")
    hit = options.cache_hit_ratio
    if hit is not None and not 0 <= hit <= 1:
        raise GateError(f"--cache-hit-ratio: must be between 0 and 1, got {hit:g}")


def _host_and_key(options: GateOptions) -> tuple[str, str]:
    wd = workdir(options.local_dir)
    host = options.host
    if host is None:
        state = read_state(wd)
        if not state:
            raise GateError("--host: not given and no local environment is up "
                            "(run `loadline local up` or pass --host URL)")
        host = state["api_url"]
    api_key = options.api_key or os.environ.get("LOADLINE_API_KEY") or read_api_key(wd)
    if not api_key:
        raise GateError("--api-key: creates are authenticated; pass --api-key or set "
                        "LOADLINE_API_KEY (the local environment stores one in its workdir)")
    return host, api_key


def _baseline_root(options: GateOptions) -> Path:
    env = os.environ.get("LOADLINE_BASELINE_DIR")
    return options.baseline_dir or (Path(env) if env else REPO_ROOT / "reports" / "baselines")


def _baseline(options: GateOptions) -> Path | None:
    """The baseline file to compare with, found before any load is sent."""
    if options.baseline is None:
        return None
    try:
        return resolve_baseline(options.baseline, options.stack, _baseline_root(options))
    except BaselineError as exc:
        raise GateError(str(exc)) from None


def _local_prometheus(options: GateOptions, host: str) -> str | None:
    """The local environment's Prometheus, when the host is that environment's API."""
    state = read_state(workdir(options.local_dir))
    if state and state.get("api_url", "").rstrip("/") == host.rstrip("/"):
        return state.get("prometheus_url")
    return None


def resolve(options: GateOptions) -> GateRun:
    """The run the options describe; GateError names the first bad option."""
    try:
        profile = options.profile or load_profile(options.stack)
    except ProfileError as exc:
        raise GateError(str(exc)) from None
    try:
        duration_s = duration_seconds(options.duration) if options.duration else None
    except ValueError as exc:
        raise GateError(f"--duration: {exc}") from None
    _check_bounds(options)
    if options.remote is not None:
        if not options.host:
            raise GateError("--host: the in-cluster runner needs the API's cluster URL")
        if options.faults:
            raise GateError("--fault: faults are injected from this machine; the in-cluster runner "
                            "takes none (use the local environment, or --via port-forward)")
        host, api_key = options.host, ""
    else:
        host, api_key = _host_and_key(options)
    targets = Targets.from_slo(profile.slo, p95_ms=options.p95_ms, p99_ms=options.p99_ms,
                               min_rps=options.min_rps, max_error_ratio=options.max_error_ratio)
    try:
        run = GateRun(stack=options.stack, profile=profile, host=host,
                      report_dir=(options.report or REPO_ROOT / "reports" / options.stack).resolve(),
                      api_key=api_key, targets=targets, users=options.users, rps=options.rps,
                      duration_s=duration_s, allow_remote=options.allow_remote,
                      workers=default_workers() if options.workers is None else options.workers,
                      prometheus_url=options.prometheus or _local_prometheus(options, host),
                      server_evidence=options.server_evidence, cache_hit_ratio=options.cache_hit_ratio,
                      baseline_path=_baseline(options), save_baseline_to=_baseline_root(options)
                      if options.save_baseline else None, abort_on_fail=options.abort_on_fail,
                      remote=options.remote, prometheus_session=options.prometheus_session)
    except PlanError as exc:
        raise GateError(f"load: {exc}") from None
    warmup = profile.load.warmup_seconds
    if warmup and warmup >= run.plan.duration_s:
        raise GateError(f"--duration: {run.plan.duration_s} s leaves nothing to judge after the profile's "
                        f"{warmup} s warm-up (load.warmupSeconds); run longer than {warmup} s")
    wd = workdir(options.local_dir)
    state = read_state(wd)
    try:
        plan = prepare(list(options.faults), run_s=total_duration(run.stage_list), host=host, wd=wd,
                       state=state, namespace=profile.namespace, kube_context=options.kube_context)
    except (FaultSpecError, InjectionError) as exc:
        raise GateError(str(exc)) from None
    run.faults, run.injector, run.db_url = plan.specs, plan.injector, plan.db_url
    if state and is_local_host(host, state):
        run.alert_webhook = (state["components"].get("alertmanager") or {}).get("webhook_url")
    return run


def judge(options: GateOptions, console: Console) -> GateResult:
    """Resolve, load, judge and print the summary. GateError: the gate could not run (exit 2)."""
    run = resolve(options)
    verdict = run_gate(run, console)
    print_summary(console, verdict)
    return GateResult(verdict=verdict, path=run.report_dir / "verdict.json")
