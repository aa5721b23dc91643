"""`loadline loadtest`: run the Locust gate against a stack and exit 0 (met), 1 (missed) or 2 (could not run)."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

from loadline.gate.decision import Targets
from loadline.gate.runner import GateError, GateRun, run_gate
from loadline.gate.summary import print_summary
from loadline.local.state import read_api_key, read_state, workdir
from loadline.profile import REPO_ROOT, ProfileError, duration_seconds, load_profile


def wide_console() -> Console:
    """A terminal console; when output is captured (CI logs), wide enough for the table."""
    console = Console()
    return console if console.is_terminal else Console(width=120)


def gate(*, stack: str, host: str | None = None, report: Path | None = None,
         duration: str | None = None, users: int | None = None, p95_ms: float | None = None,
         p99_ms: float | None = None, min_rps: float | None = None,
         max_error_ratio: float | None = None, api_key: str | None = None,
         allow_remote: bool = False, local_dir: Path | None = None,
         console: Console | None = None) -> tuple[int, Path | None]:
    """Run the gate; returns (exit code, verdict path). Errors are printed, never raised."""
    console = console or wide_console()
    try:
        profile = load_profile(stack)
    except ProfileError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2, None
    try:
        duration_s = duration_seconds(duration) if duration else None
    except ValueError as exc:
        typer.echo(f"error: --duration: {exc}", err=True)
        return 2, None
    if users is not None and users < 1:
        typer.echo("error: --users: must be >= 1", err=True)
        return 2, None
    for opt, value in (("--p95-ms", p95_ms), ("--p99-ms", p99_ms), ("--min-rps", min_rps)):
        if value is not None and value < 0:
            typer.echo(f"error: {opt}: must be >= 0, got {value:g}", err=True)
            return 2, None
    if max_error_ratio is not None and not 0 <= max_error_ratio <= 1:
        typer.echo(f"error: --max-error-ratio: must be between 0 and 1, got {max_error_ratio:g}", err=True)
        return 2, None
    wd = workdir(local_dir)
    if host is None:
        state = read_state(wd)
        if not state:
            typer.echo("error: --host: not given and no local environment is up "
                       "(run `loadline local up` or pass --host URL)", err=True)
            return 2, None
        host = state["api_url"]
    api_key = api_key or os.environ.get("LOADLINE_API_KEY") or read_api_key(wd)
    if not api_key:
        typer.echo("error: --api-key: creates are authenticated; pass --api-key or set "
                   "LOADLINE_API_KEY (the local environment stores one in its workdir)", err=True)
        return 2, None
    run = GateRun(stack=stack, profile=profile, host=host,
                  report_dir=(report or REPO_ROOT / "reports" / stack).resolve(), api_key=api_key,
                  targets=Targets.from_slo(profile.slo, p95_ms=p95_ms, p99_ms=p99_ms,
                                           min_rps=min_rps, max_error_ratio=max_error_ratio),
                  users=users, duration_s=duration_s, allow_remote=allow_remote)
    try:
        verdict = run_gate(run, console)
    except GateError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2, None
    print_summary(console, verdict)
    return verdict.exit_code, run.report_dir / "verdict.json"


def register(app: typer.Typer) -> None:
    @app.command("loadtest")
    def loadtest_cmd(
        stack: str = typer.Option(..., "--stack", help="stack whose load profile and targets apply"),
        host: str = typer.Option(None, "--host", help="API base URL (default: the running local environment)"),
        report: Path = typer.Option(None, "--report", help="output directory (default reports/<stack>)"),
        duration: str = typer.Option(None, "--duration", help="run length like 30s or 2m (default: profile load.duration)"),
        users: int = typer.Option(None, "--users", help="peak users (default: profile load.users)"),
        p95_ms: float = typer.Option(None, "--p95-ms", help="p95 target in ms (default: profile slo.p95Ms)"),
        p99_ms: float = typer.Option(None, "--p99-ms", help="p99 target in ms (default: profile slo.p99Ms, if set)"),
        min_rps: float = typer.Option(None, "--min-rps", help="minimum requests/s (default: profile slo.minRps)"),
        max_error_ratio: float = typer.Option(None, "--max-error-ratio", help="maximum failed/total (default: profile slo.maxErrorRatio)"),
        api_key: str = typer.Option(None, "--api-key", help="X-API-Key for creates (default: LOADLINE_API_KEY, then the local environment's key)"),
        allow_remote: bool = typer.Option(False, "--allow-remote", help="allow a non-loopback --host: you target a real environment"),
    ) -> None:
        """Load STACK's service with its profile's load shape and judge it against its targets."""
        code, path = gate(stack=stack, host=host, report=report, duration=duration, users=users,
                          p95_ms=p95_ms, p99_ms=p99_ms, min_rps=min_rps,
                          max_error_ratio=max_error_ratio, api_key=api_key, allow_remote=allow_remote)
        if path is not None:
            typer.echo(f"verdict: {path}")
        raise typer.Exit(code)
