"""`loadline env`: short-lived review environments (up, gate, list, down, gc)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer

from loadline.cli.console import terminal_console
from loadline.envs.errors import EnvError

env_app = typer.Typer(
    name="env",
    help="Short-lived review environments: create, deploy and gate (up), list, destroy (down), "
         "collect expired ones (gc).",
    no_args_is_help=True,
)

BACKEND_HELP = "Pulumi backend URL (default: PULUMI_BACKEND_URL, else file://<repo>/.loadline/state)"
SECRETS_HELP = "secrets provider for new stacks (default: passphrase)"
VIA_HELP = "how the gate loads a cluster-internal API: runner (the stack's Locust runner) or port-forward"


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


@env_app.command("up")
def up_cmd(
    name: str = typer.Argument(..., help="env name, a DNS-1123 label (namespace review-NAME)"),
    from_stack: str = typer.Option("dev", "--from", help="stack whose profile the env copies"),
    ttl: str = typer.Option("24h", "--ttl", help="time to live: 90m, 24h, 7d (15m to 14d)"),
    gate: bool = typer.Option(True, "--gate/--no-gate", help="run the load gate after up"),
    update: bool = typer.Option(False, "--update", help="redeploy an existing env and restart its TTL"),
    owner: str = typer.Option(None, "--owner", help="owner label (default: LOADLINE_OWNER, GITHUB_ACTOR, user)"),
    gate_host: str = typer.Option(None, "--gate-host", help="URL the gate loads (default: the stack's apiUrl output)"),
    url_output: str = typer.Option(None, "--url-output", help="stack output holding the API URL (default: apiUrl)"),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="let the gate load a non-loopback URL"),
    policy: bool = typer.Option(True, "--policy/--no-policy", help="run the CrossGuard pack (policies/) during up"),
    backend: str = typer.Option(None, "--backend", help=BACKEND_HELP),
    secrets_provider: str = typer.Option(None, "--secrets-provider", help=SECRETS_HELP),
    via: str = typer.Option("runner", "--via", help=VIA_HELP),
) -> None:
    """Create (or with --update redeploy) review env NAME from --from, run `pulumi up`, then the gate.

    Exit 0: up and gate passed (or --no-gate); 1: the gate missed its targets; 2: could not run.
    """
    # Pulumi's automation API and the gate load slowly: only the commands that deploy pay for them.
    from loadline.envs import lifecycle
    from loadline.profile import ProfileError

    request = lifecycle.UpRequest(
        name=name, from_stack=from_stack, ttl=ttl, gate=gate, update=update, owner=owner,
        gate_host=gate_host, url_output=url_output, allow_remote=allow_remote, policy=policy,
        backend=backend, secrets_provider=secrets_provider, via=via)  # type: ignore[arg-type]
    try:
        verdict = lifecycle.up(request, terminal_console())
    except (EnvError, ProfileError) as exc:
        raise _fail(exc) from None
    raise typer.Exit(0 if verdict is None else lifecycle.EXIT_CODES[verdict])


@env_app.command("gate")
def gate_cmd(
    name: str = typer.Argument(..., help="env name"),
    host: str = typer.Option(None, "--host", help="URL to load (default: the URL recorded at up)"),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="let the gate load a non-loopback URL"),
    via: str = typer.Option("runner", "--via", help=VIA_HELP),
) -> None:
    """Run the load gate against env NAME again and record its verdict (exit 0/1/2 as the gate)."""
    from loadline.envs import lifecycle

    try:
        verdict = lifecycle.gate(name, host, terminal_console(), allow_remote=allow_remote, via=via)  # type: ignore[arg-type]
    except EnvError as exc:
        raise _fail(exc) from None
    raise typer.Exit(lifecycle.EXIT_CODES[verdict])


@env_app.command("down")
def down_cmd(
    name: str = typer.Argument(..., help="env name"),
    backend: str = typer.Option(None, "--backend", help=BACKEND_HELP + "; default: the one used at up"),
    secrets_provider: str = typer.Option(None, "--secrets-provider", help=SECRETS_HELP),
) -> None:
    """Destroy env NAME's resources and remove its stack, stack file and record.

    Works on an interrupted up too.
    """
    from loadline.envs import lifecycle

    try:
        lifecycle.down(name, terminal_console(), backend=backend, secrets_provider=secrets_provider)
    except EnvError as exc:
        raise _fail(exc) from None


@env_app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="print JSON records instead of a table"),
) -> None:
    """Show each review env with its age, expiry, state and last verdict."""
    from loadline.envs.listing import records_table
    from loadline.envs.registry import Registry

    try:
        records = Registry().all()
    except EnvError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
        return
    if not records:
        typer.echo("no review envs (create one with `loadline env up NAME --from dev`)")
        return
    terminal_console().print(records_table(records, datetime.now(UTC)))


@env_app.command("gc")
def gc_cmd(
    dry_run: bool = typer.Option(False, "--dry-run", help="only list what would be destroyed"),
    backend: str = typer.Option(None, "--backend", help=BACKEND_HELP + "; default: the one used at up"),
) -> None:
    """Destroy every env whose TTL has passed (run it from cron or a scheduled CI job).

    Exit 0: all expired envs removed (or none); 2: at least one could not be removed.
    """
    from loadline.envs import lifecycle

    try:
        lifecycle.gc(terminal_console(), dry_run=dry_run, backend=backend)
    except EnvError as exc:
        raise _fail(exc) from None


def register(app: typer.Typer) -> None:
    app.add_typer(env_app, name="env")
