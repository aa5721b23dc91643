"""`loadline env`: short-lived review environments (up, gate, list, down, gc)."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from loadline.envs.cluster import (
    api_key_from_cluster,
    parse_service_url,
    port_forward,
    require_kubectl,
)
from loadline.envs.config import generate_config, is_generated, write_stack_file
from loadline.envs.driver import Driver, DriverSettings, policy_pack, workspace_dir
from loadline.envs.errors import EnvError
from loadline.envs.gate import api_url, output_api_key, run_gate
from loadline.envs.gc import select_expired
from loadline.envs.names import validate_name
from loadline.envs.preflight import preflight
from loadline.envs.registry import EnvRecord, Registry
from loadline.envs.ttl import format_ttl, parse_ttl
from loadline.profile import REPO_ROOT, STACKS_DIR, ProfileError, stack_file

# Module-level so tests can point the commands at a private copy of stacks/.
STACKS = STACKS_DIR

env_app = typer.Typer(
    name="env",
    help="Short-lived review environments: create, deploy and gate (up), list, destroy (down), "
         "collect expired ones (gc).",
    no_args_is_help=True,
)

BACKEND_HELP = ("Pulumi backend URL (default: PULUMI_BACKEND_URL, else "
                "file://<repo>/.loadline/state)")
SECRETS_HELP = "secrets provider for new stacks (default: passphrase)"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _default_owner() -> str:
    named = os.environ.get("LOADLINE_OWNER") or os.environ.get("GITHUB_ACTOR")
    if named:
        return named
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user without a passwd entry
        return "unknown"


def _printer(console: Console):
    def on_output(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return on_output


def _report_dir(name: str) -> Path:
    return REPO_ROOT / "reports" / "envs" / name / _now().strftime("%Y%m%dT%H%M%SZ")


def _record_gate(registry: Registry, record: EnvRecord, host: str, console: Console, *,
                 allow_remote: bool, forward: bool, outputs: dict | None = None) -> int:
    """Run the gate and record its verdict. `forward`: the URL came from the stack, so a
    cluster-internal one is reached through `kubectl port-forward`."""
    report = _report_dir(record.name)
    key = os.environ.get("LOADLINE_API_KEY") or output_api_key(outputs)
    ref = parse_service_url(host) if forward else None
    console.rule(f"gate: {record.name}")
    try:
        with contextlib.ExitStack() as stack:
            if ref is not None:
                kubectl = require_kubectl(f"loadline env gate {record.name}")
                host = stack.enter_context(port_forward(ref, kubectl))
                console.print(f"gate: svc/{ref.service} in {ref.namespace} forwarded to {host}")
                key = key or api_key_from_cluster(ref.namespace, kubectl)
            code, verdict = run_gate(record.name, host, report, api_key=key,
                                     allow_remote=allow_remote)
    except EnvError as exc:
        typer.echo(f"error: {exc}", err=True)
        code, verdict = 2, "error"
    record.last_verdict, record.verdict_at, record.report_dir = verdict, _now(), str(report)
    registry.save(record)
    console.print(f"verdict for {record.name}: [bold]{verdict}[/] (exit {code}); report in {report}")
    return code


def _remove(name: str, settings: DriverSettings, console: Console) -> None:
    """Destroy the stack's resources, remove the stack, then the local files. Raises EnvError."""
    with console.status(f"pulumi destroy {name}"):
        existed = Driver(name, settings).destroy(_printer(console))
    if not existed:
        console.print(f"{name}: no stack in the backend (an up that never started); cleaning up")
    stack_file(name, STACKS).unlink(missing_ok=True)
    shutil.rmtree(workspace_dir(name, settings), ignore_errors=True)
    Registry().remove(name)
    console.print(f"{name}: destroyed and removed")


def _owned(name: str, registry: Registry) -> EnvRecord | None:
    """The env's record; EnvError if NAME is not a review env at all."""
    record = registry.get(name)
    path = stack_file(name, STACKS)
    if record is None:
        if path.exists() and not is_generated(path):
            raise EnvError(f"'{name}' is a permanent stack ({path.name}), not a review env")
        if not path.exists():
            raise EnvError(f"no review env '{name}' (see `loadline env list`)")
    return record


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
) -> None:
    """Create (or with --update redeploy) review env NAME from --from, run `pulumi up`, then the gate.

    Exit 0: up and gate passed (or --no-gate); 1: the gate missed its targets; 2: could not run.
    """
    console = Console()
    registry = Registry()
    next_command = f"loadline env up {name} --from {from_stack} --ttl {ttl}" + \
        ("" if gate else " --no-gate") + (" --update" if update else "")
    try:
        validate_name(name)
        lifetime = parse_ttl(ttl)
        existing = registry.get(name)
        path = stack_file(name, STACKS)
        if existing is not None and not update:
            raise EnvError(
                f"env '{name}' already exists ({existing.state(_now())}, created "
                f"{existing.created:%Y-%m-%d %H:%M} UTC by {existing.owner}); pass --update to "
                f"redeploy it, or run `loadline env down {name}` first")
        if existing is None and path.exists() and not is_generated(path):
            raise EnvError(f"'{name}' is a permanent stack ({path.name}); choose another env name")
        now = _now()
        created = existing.created if existing else now
        who = owner or (existing.owner if existing else _default_owner())
        review = generate_config(name, from_stack, owner=who, created=created, expires=now + lifetime,
                                 stacks_dir=STACKS)
        settings = DriverSettings.resolve(backend or (existing.backend if existing else None),
                                          secrets_provider, stacks_dir=STACKS)
        preflight(next_command)
        if gate and not gate_host:
            require_kubectl(next_command)
    except ProfileError as exc:
        raise _fail(str(exc)) from None
    except EnvError as exc:
        raise _fail(str(exc)) from None

    for key in review.skipped_secrets:
        console.print(f"[yellow]note:[/] secret {key} of {from_stack} is not copied; set it with "
                      f"`pulumi config set --secret {key} ... --stack {name}`")
    record = EnvRecord(
        name=name, from_stack=from_stack, owner=review.labels["loadline.dev/owner"], created=created,
        expires=now + lifetime, backend=settings.backend_url,
        secrets_provider=settings.secrets_provider, finished=False,
        last_verdict=existing.last_verdict if existing else None,
        verdict_at=existing.verdict_at if existing else None,
        report_dir=existing.report_dir if existing else None,
    )
    try:
        if existing:
            registry.save(record)
        else:
            registry.claim(record)
    except EnvError as exc:
        raise _fail(str(exc)) from None
    write_stack_file(review, STACKS)
    console.print(f"{name}: namespace {review.profile.namespace}, expires "
                  f"{record.expires:%Y-%m-%d %H:%M} UTC, backend {settings.backend_url}")
    try:
        with console.status(f"pulumi up {name} (stack file {stack_file(name, STACKS).name})"):
            outputs = Driver(name, settings).up(
                _printer(console), policy_pack(review.profile.environment) if policy else None)
    except EnvError as exc:
        typer.echo(f"error: {exc}", err=True)
        typer.echo(f"the stack may be partly created; `loadline env down {name}` removes it, "
                   f"`loadline env up {name} --update` retries", err=True)
        raise typer.Exit(2) from None
    record.finished = True
    record.api_url = api_url(outputs, url_output)
    registry.save(record)
    console.print(f"{name}: up; API at {record.api_url or '(no apiUrl output)'}")
    if not gate:
        return
    host = gate_host or record.api_url
    if not host:
        raise _fail(f"the stack exports no API URL (output {url_output or 'apiUrl'}); pass "
                    f"--gate-host URL or run `loadline env gate {name} --host URL`")
    raise typer.Exit(_record_gate(registry, record, host, console, allow_remote=allow_remote,
                                  forward=gate_host is None, outputs=outputs))


@env_app.command("gate")
def gate_cmd(
    name: str = typer.Argument(..., help="env name"),
    host: str = typer.Option(None, "--host", help="URL to load (default: the URL recorded at up)"),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="let the gate load a non-loopback URL"),
) -> None:
    """Run the load gate against env NAME again and record its verdict (exit 0/1/2 as the gate)."""
    registry = Registry()
    try:
        validate_name(name)
        record = registry.get(name)
        if record is None:
            raise EnvError(f"no review env '{name}' (see `loadline env list`)")
        if not record.finished:
            raise EnvError(f"env '{name}' never finished its up; run `loadline env up {name} --update`")
    except EnvError as exc:
        raise _fail(str(exc)) from None
    target = host or record.api_url
    if not target:
        raise _fail(f"no API URL recorded for '{name}'; pass --host URL")
    raise typer.Exit(_record_gate(registry, record, target, Console(), allow_remote=allow_remote,
                                  forward=host is None))


@env_app.command("down")
def down_cmd(
    name: str = typer.Argument(..., help="env name"),
    backend: str = typer.Option(None, "--backend", help=BACKEND_HELP + "; default: the one used at up"),
    secrets_provider: str = typer.Option(None, "--secrets-provider", help=SECRETS_HELP),
) -> None:
    """Destroy env NAME's resources and remove its stack, stack file and record.

    Works on an interrupted up too.
    """
    console = Console()
    registry = Registry()
    try:
        validate_name(name)
        record = _owned(name, registry)
        settings = DriverSettings.resolve(
            backend or (record.backend if record else None),
            secrets_provider or (record.secrets_provider if record else None), stacks_dir=STACKS)
        preflight(f"loadline env down {name}")
        _remove(name, settings, console)
    except EnvError as exc:
        raise _fail(str(exc)) from None


def _age(now: datetime, then: datetime) -> str:
    return format_ttl(now - then)


@env_app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="print JSON records instead of a table"),
) -> None:
    """Show each review env with its age, expiry, state and last verdict."""
    try:
        records = Registry().all()
    except EnvError as exc:
        raise _fail(str(exc)) from None
    now = _now()
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
        return
    if not records:
        typer.echo("no review envs (create one with `loadline env up NAME --from dev`)")
        return
    table = Table(title="review envs")
    for col in ("name", "from", "owner", "age", "expires", "state", "last verdict", "api"):
        table.add_column(col)
    for r in records:
        left = r.expires - now
        expires = f"in {format_ttl(left)}" if left.total_seconds() > 0 else f"{format_ttl(-left)} ago"
        verdict = r.last_verdict or "-"
        if r.verdict_at:
            verdict += f" ({_age(now, r.verdict_at)} ago)"
        table.add_row(r.name, r.from_stack, r.owner, _age(now, r.created), expires, r.state(now),
                      verdict, r.api_url or "-")
    Console().print(table)


@env_app.command("gc")
def gc_cmd(
    dry_run: bool = typer.Option(False, "--dry-run", help="only list what would be destroyed"),
    backend: str = typer.Option(None, "--backend", help=BACKEND_HELP + "; default: the one used at up"),
) -> None:
    """Destroy every env whose TTL has passed (run it from cron or a scheduled CI job).

    Exit 0: all expired envs removed (or none); 2: at least one could not be removed.
    """
    console = Console()
    registry = Registry()
    try:
        expired = select_expired(registry.all(), _now())
    except EnvError as exc:
        raise _fail(str(exc)) from None
    if not expired:
        console.print("gc: nothing expired")
        return
    for r in expired:
        console.print(f"gc: {r.name} expired {r.expires:%Y-%m-%d %H:%M} UTC "
                      f"({r.state(_now())}, owner {r.owner})")
    if dry_run:
        console.print(f"gc: dry run, {len(expired)} env(s) would be destroyed")
        return
    try:
        preflight("loadline env gc")
    except EnvError as exc:
        raise _fail(str(exc)) from None
    failed = []
    for r in expired:
        settings = DriverSettings.resolve(backend or r.backend, r.secrets_provider, stacks_dir=STACKS)
        try:
            _remove(r.name, settings, console)
        except EnvError as exc:
            typer.echo(f"error: {exc}", err=True)
            failed.append(r.name)
    if failed:
        raise _fail(f"gc: {len(failed)} of {len(expired)} expired env(s) not removed: {', '.join(failed)}")
    console.print(f"gc: {len(expired)} env(s) destroyed")


def register(app: typer.Typer) -> None:
    app.add_typer(env_app, name="env")
