"""A review environment's life: up (claim, stack file, deploy, gate), gate again, down, gc.

Each step raises EnvError with a message that says what to run next; `loadline env`
turns it into `error: ...` and exit code 2.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from rich.console import Console

from components.environment import NAME as ENV_NAME
from components.monitoring.prometheus import PORT as PROMETHEUS_PORT
from loadline.envs.cluster import (
    ServiceRef,
    api_key_from_cluster,
    parse_service_url,
    port_forward,
    require_kubectl,
)
from loadline.envs.config import ReviewConfig, generate_config, is_generated, write_stack_file
from loadline.envs.driver import Driver, DriverSettings, policy_pack, workspace_dir
from loadline.envs.errors import EnvError
from loadline.envs.gate import api_url, output_api_key, run_gate
from loadline.envs.gc import select_expired
from loadline.envs.names import validate_name
from loadline.envs.preflight import preflight
from loadline.envs.registry import EnvRecord, Registry, Verdict
from loadline.envs.runner import InClusterRunner, api_client, service_proxy
from loadline.envs.ttl import parse_ttl
from loadline.profile import REPO_ROOT, STACKS_DIR, Profile, ProfileError, load_profile, stack_file

# Module-level so tests can point the lifecycle at a private copy of stacks/.
STACKS = STACKS_DIR
EXIT_CODES: dict[Verdict, int] = {"pass": 0, "missed": 1, "error": 2}
# How the gate reaches a cluster-internal API: the stack's own Locust runner (the load is
# sent inside the cluster), or `kubectl port-forward` from this machine (the fallback).
Via = Literal["runner", "port-forward"]
VIA: tuple[str, ...] = get_args(Via)


@dataclass(frozen=True)
class UpRequest:
    """`loadline env up`'s options; see its --help for each."""

    name: str
    from_stack: str = "dev"
    ttl: str = "24h"
    gate: bool = True
    update: bool = False
    owner: str | None = None
    gate_host: str | None = None
    url_output: str | None = None
    allow_remote: bool = False
    policy: bool = True
    backend: str | None = None
    secrets_provider: str | None = None
    via: Via = "runner"

    def next_command(self) -> str:
        return (f"loadline env up {self.name} --from {self.from_stack} --ttl {self.ttl}"
                + ("" if self.gate else " --no-gate") + (" --update" if self.update else ""))


def _now() -> datetime:
    return datetime.now(UTC)


def _default_owner() -> str:
    named = os.environ.get("LOADLINE_OWNER") or os.environ.get("GITHUB_ACTOR")
    if named:
        return named
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user without a passwd entry
        return "unknown"


def _printer(console: Console) -> Callable[[str], None]:
    def on_output(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return on_output


def _prometheus_ref(outputs: Mapping[str, Any] | None) -> ServiceRef | None:
    """The stack's Prometheus Service, from its `prometheusUrl` output, when it is cluster-internal."""
    url = (outputs or {}).get("prometheusUrl") or (outputs or {}).get("prometheus_url")
    return parse_service_url(url) if isinstance(url, str) else None


def _report_dir(name: str) -> Path:
    return REPO_ROOT / "reports" / "envs" / name / _now().strftime("%Y%m%dT%H%M%SZ")


def _prometheus_of(profile: Profile, outputs: Mapping[str, Any] | None, namespace: str) -> ServiceRef | None:
    """The stack's Prometheus: its `prometheusUrl` output, else the bundled one's Service by name."""
    ref = _prometheus_ref(outputs)
    if ref is not None or profile.monitoring.mode != "bundled":
        return ref
    return ServiceRef("http", f"{ENV_NAME}-monitoring-prometheus", namespace, PROMETHEUS_PORT, "")


def _in_cluster(record: EnvRecord, ref: ServiceRef, host: str, report: Path, console: Console,
                outputs: Mapping[str, Any] | None) -> Verdict:
    """The gate with the load sent by the stack's Locust runner, next to the API it loads."""
    try:
        profile = load_profile(record.name, STACKS)
    except ProfileError as exc:
        raise EnvError(str(exc)) from None
    client = api_client()
    runner = InClusterRunner(namespace=ref.namespace, client=client,
                             on_progress=lambda msg: console.print(msg, markup=False, highlight=False))
    console.print(f"gate: the load runs in {ref.namespace} ({profile.load.runner.workers} Locust worker(s)) "
                  f"against {host}")
    prom = _prometheus_of(profile, outputs, ref.namespace)
    prometheus, session = service_proxy(client, prom.namespace, prom.service, prom.port, prom.scheme) \
        if prom is not None else (None, None)
    return run_gate(record.name, host, report, console=console, remote=runner, profile=profile,
                    prometheus=prometheus, prometheus_session=session).name


def _forwarded(record: EnvRecord, host: str, report: Path, console: Console, *, key: str | None,
               ref: ServiceRef | None, prometheus: ServiceRef | None, allow_remote: bool) -> Verdict:
    """The gate from this machine; a cluster-internal API (and its Prometheus) through kubectl port-forward."""
    prometheus_url: str | None = None
    with contextlib.ExitStack() as stack:
        if ref is not None:
            kubectl = require_kubectl(f"loadline env gate {record.name} --via port-forward")
            host = stack.enter_context(port_forward(ref, kubectl))
            console.print(f"gate: svc/{ref.service} in {ref.namespace} forwarded to {host}")
            key = key or api_key_from_cluster(ref.namespace, kubectl)
            # The server's own evidence comes from the stack's Prometheus, which is just as
            # cluster-internal as the API: without it every gate would fail for want of evidence.
            if prometheus is not None:
                prometheus_url = stack.enter_context(port_forward(prometheus, kubectl))
                console.print(f"gate: svc/{prometheus.service} in {prometheus.namespace} "
                              f"forwarded to {prometheus_url}")
        return run_gate(record.name, host, report, api_key=key, allow_remote=allow_remote,
                        console=console, prometheus=prometheus_url).name


def _record_gate(registry: Registry, record: EnvRecord, host: str, console: Console, *,
                 allow_remote: bool, forward: bool, outputs: Mapping[str, Any] | None = None,
                 via: Via = "runner") -> Verdict:
    """Run the gate and record its verdict. `forward`: the URL came from the stack, so a
    cluster-internal one is loaded by the stack's runner (`via="runner"`) or reached
    through `kubectl port-forward` (`via="port-forward"`)."""
    report = _report_dir(record.name)
    ref = parse_service_url(host) if forward else None
    console.rule(f"gate: {record.name}")
    verdict: Verdict
    try:
        if ref is not None and via == "runner":
            verdict = _in_cluster(record, ref, host, report, console, outputs)
        else:
            verdict = _forwarded(record, host, report, console,
                                 key=os.environ.get("LOADLINE_API_KEY") or output_api_key(outputs), ref=ref,
                                 prometheus=_prometheus_ref(outputs) if ref is not None else None,
                                 allow_remote=allow_remote)
    except EnvError as exc:
        print(f"error: {exc}", file=sys.stderr)
        verdict = "error"
    return _save_verdict(registry, record, verdict, report, console)


def _save_verdict(registry: Registry, record: EnvRecord, verdict: Verdict, report: Path,
                  console: Console) -> Verdict:
    record.last_verdict, record.verdict_at, record.report_dir = verdict, _now(), str(report)
    registry.save(record)
    console.print(f"verdict for {record.name}: [bold]{verdict}[/] (exit {EXIT_CODES[verdict]}); "
                  f"report in {report}")
    return verdict


@dataclass(frozen=True)
class _UpPlan:
    record: EnvRecord
    review: ReviewConfig
    settings: DriverSettings
    existing: EnvRecord | None


def _plan_up(req: UpRequest, registry: Registry) -> _UpPlan:
    """Validate everything before anything is written: the record to claim and the stack file."""
    validate_name(req.name)
    lifetime = parse_ttl(req.ttl)
    existing = registry.get(req.name)
    path = stack_file(req.name, STACKS)
    if existing is not None and not req.update:
        raise EnvError(
            f"env '{req.name}' already exists ({existing.state(_now())}, created "
            f"{existing.created:%Y-%m-%d %H:%M} UTC by {existing.owner}); pass --update to "
            f"redeploy it, or run `loadline env down {req.name}` first")
    if existing is None and path.exists() and not is_generated(path):
        raise EnvError(f"'{req.name}' is a permanent stack ({path.name}); choose another env name")
    now = _now()
    created = existing.created if existing else now
    who = req.owner or (existing.owner if existing else _default_owner())
    review = generate_config(req.name, req.from_stack, owner=who, created=created,
                             expires=now + lifetime, stacks_dir=STACKS)
    settings = DriverSettings.resolve(req.backend or (existing.backend if existing else None),
                                      req.secrets_provider, stacks_dir=STACKS)
    preflight(req.next_command())
    if req.via not in VIA:
        raise EnvError(f"--via: '{req.via}' is not one of {', '.join(VIA)}")
    if req.gate and not req.gate_host and req.via == "port-forward":
        require_kubectl(req.next_command())
    record = EnvRecord(
        name=req.name, from_stack=req.from_stack, owner=review.labels["loadline.dev/owner"],
        created=created, expires=now + lifetime, backend=settings.backend_url,
        secrets_provider=settings.secrets_provider, finished=False,
        last_verdict=existing.last_verdict if existing else None,
        verdict_at=existing.verdict_at if existing else None,
        report_dir=existing.report_dir if existing else None,
    )
    return _UpPlan(record, review, settings, existing)


def _deploy(req: UpRequest, plan: _UpPlan, console: Console) -> dict[str, Any]:
    try:
        with console.status(f"pulumi up {req.name} (stack file {stack_file(req.name, STACKS).name})"):
            return Driver(req.name, plan.settings).up(
                _printer(console), policy_pack(plan.review.profile.environment) if req.policy else None)
    except EnvError as exc:
        raise EnvError(f"{exc}\nthe stack may be partly created; `loadline env down {req.name}` "
                       f"removes it, `loadline env up {req.name} --update` retries") from None


def up(req: UpRequest, console: Console) -> Verdict | None:
    """Create (or redeploy) the env and deploy it; the gate's verdict, or None with --no-gate.

    Raises EnvError or ProfileError; nothing is written before every check has passed.
    """
    registry = Registry()
    plan = _plan_up(req, registry)
    record, review = plan.record, plan.review
    for key in review.skipped_secrets:
        console.print(f"[yellow]note:[/] secret {key} of {req.from_stack} is not copied; set it with "
                      f"`pulumi config set --secret {key} ... --stack {req.name}`")
    if plan.existing:
        registry.save(record)
    else:
        registry.claim(record)
    write_stack_file(review, STACKS)
    console.print(f"{req.name}: namespace {review.profile.namespace}, expires "
                  f"{record.expires:%Y-%m-%d %H:%M} UTC, backend {record.backend}")
    outputs = _deploy(req, plan, console)
    record.finished = True
    record.api_url = api_url(outputs, req.url_output)
    registry.save(record)
    console.print(f"{req.name}: up; API at {record.api_url or '(no apiUrl output)'}")
    if not req.gate:
        return None
    host = req.gate_host or record.api_url
    if not host:
        raise EnvError(f"the stack exports no API URL (output {req.url_output or 'apiUrl'}); pass "
                       f"--gate-host URL or run `loadline env gate {req.name} --host URL`")
    return _record_gate(registry, record, host, console, allow_remote=req.allow_remote,
                        forward=req.gate_host is None, outputs=outputs, via=req.via)


def gate(name: str, host: str | None, console: Console, *, allow_remote: bool = False,
         via: Via = "runner") -> Verdict:
    """Run the gate against env NAME again (HOST, else the URL recorded at up) and record it."""
    registry = Registry()
    validate_name(name)
    if via not in VIA:
        raise EnvError(f"--via: '{via}' is not one of {', '.join(VIA)}")
    record = registry.get(name)
    if record is None:
        raise EnvError(f"no review env '{name}' (see `loadline env list`)")
    if not record.finished:
        raise EnvError(f"env '{name}' never finished its up; run `loadline env up {name} --update`")
    target = host or record.api_url
    if not target:
        raise EnvError(f"no API URL recorded for '{name}'; pass --host URL")
    return _record_gate(registry, record, target, console, allow_remote=allow_remote,
                        forward=host is None, via=via)


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


def down(name: str, console: Console, *, backend: str | None = None,
         secrets_provider: str | None = None) -> None:
    """Destroy env NAME's resources and remove its stack, stack file and record."""
    validate_name(name)
    record = _owned(name, Registry())
    settings = DriverSettings.resolve(
        backend or (record.backend if record else None),
        secrets_provider or (record.secrets_provider if record else None), stacks_dir=STACKS)
    preflight(f"loadline env down {name}")
    _remove(name, settings, console)


def gc(console: Console, *, dry_run: bool = False, backend: str | None = None) -> None:
    """Destroy every env whose TTL has passed; EnvError names those that could not be removed."""
    expired = select_expired(Registry().all(), _now())
    if not expired:
        console.print("gc: nothing expired")
        return
    for r in expired:
        console.print(f"gc: {r.name} expired {r.expires:%Y-%m-%d %H:%M} UTC "
                      f"({r.state(_now())}, owner {r.owner})")
    if dry_run:
        console.print(f"gc: dry run, {len(expired)} env(s) would be destroyed")
        return
    preflight("loadline env gc")
    failed = []
    for r in expired:
        settings = DriverSettings.resolve(backend or r.backend, r.secrets_provider, stacks_dir=STACKS)
        try:
            _remove(r.name, settings, console)
        except EnvError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed.append(r.name)
    if failed:
        raise EnvError(f"gc: {len(failed)} of {len(expired)} expired env(s) not removed: {', '.join(failed)}")
    console.print(f"gc: {len(expired)} env(s) destroyed")
