"""`loadline local up|status|down`: the stack's topology on this machine's loopback."""

from __future__ import annotations

import json
from pathlib import Path

import typer

local_app = typer.Typer(help="Run a stack's topology on this machine (loopback only).",
                        no_args_is_help=True)

WORKDIR_OPT = typer.Option(None, "--workdir", help="state directory (default .loadline/local, or LOADLINE_LOCAL_DIR)")


def register(app: typer.Typer) -> None:
    app.add_typer(local_app, name="local")


@local_app.command("up")
def up_cmd(stack: str = typer.Option("local", "--stack", help="stack whose profile describes the topology"),
           wd: Path = WORKDIR_OPT) -> None:
    """Start PostgreSQL, Redis, the API (migrated) and Prometheus; wait until all are ready."""
    from rich.console import Console

    from loadline.local import env
    from loadline.local.bringup import bring_up
    from loadline.local.state import workdir
    from loadline.profile import ProfileError, load_profile

    console = Console()
    try:
        state = bring_up(load_profile(stack), stack, workdir(wd), console)
    except (ProfileError, env.LocalError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        # Whatever had started is already down (env.up stops it); 130 as for `demo` and shells.
        typer.echo("interrupted; everything started is stopped", err=True)
        raise typer.Exit(130) from None
    console.print(f"api: {state['api_url']}  prometheus: {state['prometheus_url']}")
    console.print(f"API key: {state['api_key_file']}  (stop with `loadline local down`)")


@local_app.command("status")
def status_cmd(as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
               wd: Path = WORKDIR_OPT) -> None:
    """Show each component's URL, whether it answers and, when not, why; exit 1 when something is down."""
    from rich.console import Console

    from loadline.local import status as local_status
    from loadline.local.state import workdir

    state = local_status.status(workdir(wd))
    if as_json:
        typer.echo(json.dumps(state, indent=2))
    else:
        console = Console(highlight=False)
        for line in local_status.summary_lines(state):
            console.print(line)
    raise typer.Exit(0 if state["up"] else 1)


@local_app.command("down")
def down_cmd(wd: Path = WORKDIR_OPT) -> None:
    """Stop every process the local environment started (also after a failed `up`)."""
    from loadline.local import env
    from loadline.local.state import workdir

    path = workdir(wd)
    env.down(path)
    typer.echo(f"local environment: down (no process left from {path})")
