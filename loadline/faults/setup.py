"""Which injector a gate run uses, checked before any load is sent.

When the gate loads the local environment (its host is the one `loadline local up`
recorded), faults hit that environment's processes and acknowledged writes are read
back from its PostgreSQL. Any other host is a cluster: faults go through the
Kubernetes API in the profile's namespace, and writes are read back through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadline.faults.kubernetes import KubernetesInjector
from loadline.faults.local import InjectionError, LocalInjector
from loadline.faults.schedule import Injector
from loadline.faults.spec import FaultSpec, parse_faults

LOCAL_ONLY = {"redis-stall"}


@dataclass
class FaultPlan:
    specs: list[FaultSpec]
    injector: Injector | None
    db_url: str | None


def is_local_host(host: str, state: dict[str, Any] | None) -> bool:
    if not state:
        return False
    return bool(state["api_url"].rstrip("/") == host.rstrip("/"))


def prepare(texts: list[str], *, run_s: float, host: str, wd: Path, state: dict | None,
            namespace: str, kube_context: str | None = None) -> FaultPlan:
    """Parse the SPECs and pick the injector. Raises FaultSpecError or InjectionError (exit 2)."""
    specs = parse_faults(texts, run_s=run_s)
    if not specs:
        return FaultPlan([], None, None)
    if is_local_host(host, state):
        assert state is not None
        if any(s.kind.name == "api-worker-kill" for s in specs) and state["components"]["api"]["workers"] < 2:
            raise InjectionError("--fault api-worker-kill: the local API runs 1 worker; killing it is an outage "
                                 "of the whole API, not of one worker (api.workers must be >= 2)")
        return FaultPlan(specs, LocalInjector(wd, state), state["components"]["postgres"]["url"])
    for s in specs:
        if s.kind.name in LOCAL_ONLY:
            raise InjectionError(f"--fault {s.text}: '{s.kind.name}' is only injected in the local environment "
                                 f"(the gate's host {host} is not `loadline local up`'s)")
    return FaultPlan(specs, KubernetesInjector(namespace, context=kube_context), None)
