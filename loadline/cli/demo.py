"""`loadline demo`: local up, seed, gate with the `local` profile, local down (always).

The last line is `verdict: PATH` whenever the gate produced a verdict; the exit
code is the gate's (0 met, 1 missed, 2 could not run, 130 interrupted).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from loadline.cli.loadtest import gate, wide_console
from loadline.cli.local import bring_up
from loadline.local import env
from loadline.local.state import read_api_key, workdir
from loadline.profile import ProfileError


def run_demo(stack: str, report: Path | None, duration: str | None, console: Console) -> tuple[int, Path | None]:
    wd = workdir()
    started = False
    try:
        state = bring_up(stack, wd, console)
        started = True
        console.print(f"local environment up: api {state['api_url']}, prometheus {state['prometheus_url']}")
        return gate(stack=stack, host=state["api_url"], report=report, duration=duration,
                    api_key=read_api_key(wd), console=console)
    except (ProfileError, env.LocalError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2, None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130, None
    finally:
        if started:
            with console.status("local down"):
                env.down(wd)
            console.print("local environment down")


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        stack: str = typer.Option("local", "--stack", help="stack profile to bring up and gate"),
        report: Path = typer.Option(None, "--report", help="gate output directory (default reports/<stack>)"),
        duration: str = typer.Option(None, "--duration", help="override the profile's load.duration"),
    ) -> None:
        """Bring the local environment up, load it, judge it against its targets, bring it down."""
        code, path = run_demo(stack, report, duration, wide_console())
        if path is not None:
            typer.echo(f"verdict: {path}")
        raise typer.Exit(code)
