"""`loadline loadtest`: run the Locust gate against a stack and exit 0 (met), 1 (missed) or 2 (could not run)."""

from __future__ import annotations

from pathlib import Path

import typer

from loadline.cli.console import wide_console


def register(app: typer.Typer) -> None:
    @app.command("loadtest")
    def loadtest_cmd(
        stack: str = typer.Option(..., "--stack", help="stack whose load profile and targets apply"),
        host: str = typer.Option(None, "--host", help="API base URL (default: the running local environment)"),
        report: Path = typer.Option(None, "--report", help="output directory (default reports/<stack>)"),
        duration: str = typer.Option(None, "--duration", help="run length like 30s or 2m (default: profile load.duration)"),
        users: int = typer.Option(None, "--users", help="closed model: peak users (default: profile load.users)"),
        rps: float = typer.Option(None, "--rps", help="open model: peak arrival rate in requests/s (default: profile load.rps)"),
        workers: int = typer.Option(None, "--workers", help="Locust worker processes under a master (default: the core count; 0: one process)"),
        prometheus: str = typer.Option(None, "--prometheus", help="the stack's Prometheus URL, asked for the server's side of the run (default: the local environment's)"),
        cache_hit_ratio: float = typer.Option(None, "--cache-hit-ratio", help="minimum server-side cache hits/lookups (default: profile slo.cacheHitRatio, if set)"),
        abort_on_fail: bool = typer.Option(False, "--abort-on-fail", help="stop early once a target is clearly lost (10x its limit for 10 s); exit 1 with the verdict so far"),
        save_baseline: bool = typer.Option(False, "--save-baseline", help="keep this run, if it passes, as the stack's newest baseline"),
        baseline: str = typer.Option(None, "--baseline", metavar="PATH|last", help="compare with a saved baseline; a significant p95 or throughput regression beyond slo.maxRegressionPercent fails"),
        server_evidence: bool = typer.Option(True, "--server-evidence/--no-server-evidence", help="judge the server's own figures from Prometheus (default: on; off is recorded in the verdict)"),
        p95_ms: float = typer.Option(None, "--p95-ms", help="p95 target in ms (default: profile slo.p95Ms)"),
        p99_ms: float = typer.Option(None, "--p99-ms", help="p99 target in ms (default: profile slo.p99Ms, if set)"),
        min_rps: float = typer.Option(None, "--min-rps", help="minimum requests/s (default: profile slo.minRps)"),
        max_error_ratio: float = typer.Option(None, "--max-error-ratio", help="maximum failed/total (default: profile slo.maxErrorRatio)"),
        api_key: str = typer.Option(None, "--api-key", help="X-API-Key for creates (default: LOADLINE_API_KEY, then the local environment's key)"),
        allow_remote: bool = typer.Option(False, "--allow-remote", help="allow a non-loopback --host: you target a real environment"),
        fault: list[str] = typer.Option([], "--fault", metavar="SPEC", help="inject a fault during the load, e.g. redis-primary-kill@20s or postgres-restart@20s:5s (repeatable; docs/loadtest.md)"),
        kube_context: str = typer.Option(None, "--kube-context", help="kubeconfig context for faults on a cluster (default: the current one)"),
    ) -> None:
        """Load STACK's service with its profile's load shape and judge it against its targets."""
        # The gate pulls in plotting and HTTP clients: only this command pays for them.
        from loadline.gate.entry import GateError, GateOptions, judge

        options = GateOptions(stack=stack, host=host, report=report, duration=duration, users=users,
                              rps=rps, workers=workers, prometheus=prometheus,
                              server_evidence=server_evidence, cache_hit_ratio=cache_hit_ratio,
                              baseline=baseline, save_baseline=save_baseline, abort_on_fail=abort_on_fail,
                              p95_ms=p95_ms, p99_ms=p99_ms, min_rps=min_rps,
                              max_error_ratio=max_error_ratio, api_key=api_key,
                              allow_remote=allow_remote, faults=tuple(fault), kube_context=kube_context)
        try:
            result = judge(options, wide_console())
        except GateError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"verdict: {result.path}")
        raise typer.Exit(result.verdict.exit_code)
