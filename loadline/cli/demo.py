"""`loadline demo`: local up, seed, gate with the `local` profile, local down (always).

The last line is `verdict: PATH` whenever the gate produced a verdict; the exit
code is the gate's (0 met, 1 missed, 2 could not run, 130 interrupted).
"""

from __future__ import annotations

from pathlib import Path

import typer

from loadline.cli.console import wide_console


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        stack: str = typer.Option("local", "--stack", help="stack profile to bring up and gate"),
        report: Path = typer.Option(None, "--report", help="gate output directory (default reports/<stack>)"),
        duration: str = typer.Option(None, "--duration", help="override the profile's load.duration"),
        fault: list[str] = typer.Option([], "--fault", metavar="SPEC", help="inject a fault during the load (repeatable; see `loadline loadtest --help`)"),
        rps: float = typer.Option(None, "--rps", help="override the profile's load.rps"),
        workers: int = typer.Option(None, "--workers", help="Locust worker processes (default: the core count)"),
        p95_ms: float = typer.Option(None, "--p95-ms", help="override slo.p95Ms"),
        p99_ms: float = typer.Option(None, "--p99-ms", help="override slo.p99Ms"),
        min_rps: float = typer.Option(None, "--min-rps", help="override slo.minRps"),
    ) -> None:
        """Bring the local environment up, load it, judge it against its targets, bring it down."""
        from loadline.gate.demo import run_demo
        from loadline.gate.entry import GateError
        from loadline.local.env import LocalError
        from loadline.profile import ProfileError

        try:
            result = run_demo(stack, wide_console(), report=report, duration=duration, faults=tuple(fault),
                              rps=rps, workers=workers, p95_ms=p95_ms, p99_ms=p99_ms, min_rps=min_rps)
        except (ProfileError, LocalError, GateError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        typer.echo(f"verdict: {result.path}")
        raise typer.Exit(result.verdict.exit_code)
