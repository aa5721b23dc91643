"""Faults on a cluster, through the Kubernetes API (the `kubernetes` client).

What to act on is decided by `plan()` from plain listings of the namespace's pods and
workloads, so the decision is tested without a cluster; `KubernetesInjector` carries the
plan out. Workloads are found by the `app.kubernetes.io/name` label the components set
(`<prefix>-redis`, `<prefix>-postgres`, `<prefix>-api`).

- redis-primary-kill: delete one Redis pod that reports itself as master (asked with
  `redis-cli role` over the exec API); its StatefulSet recreates it.
- redis-all-kill, postgres-restart: scale the StatefulSet to 0, and back after FOR.
- api-worker-kill: delete one API pod; its Deployment recreates it.
- redis-stall: not offered on a cluster (SIGSTOP needs the node; a debug sleep is disabled
  in the images we pin).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from loadline.faults.local import Applied, InjectionError, choose_primary
from loadline.faults.spec import FaultSpec

NAME_LABEL = "app.kubernetes.io/name"
SCALE_WAIT_S = 300


@dataclass(frozen=True)
class Pod:
    name: str
    app: str  # value of NAME_LABEL
    ready: bool = True


@dataclass(frozen=True)
class Workload:
    kind: str  # "StatefulSet" | "Deployment"
    name: str
    app: str
    replicas: int


@dataclass(frozen=True)
class Action:
    """`delete-pod` NAME, or `scale` KIND/NAME to 0 and back to `replicas`."""

    verb: str
    name: str
    kind: str = "Pod"
    replicas: int = 0

    def describe(self) -> str:
        if self.verb == "delete-pod":
            return f"pod/{self.name} (deleted)"
        return f"{self.kind.lower()}/{self.name} (scaled 0, back to {self.replicas})"


def _one(workloads: list[Workload], app: str, kind: str, spec: FaultSpec) -> Workload:
    found = [w for w in workloads if w.app == app and w.kind == kind]
    if len(found) != 1:
        raise InjectionError(f"{spec.text}: expected one {kind} labelled {NAME_LABEL}={app}, found {len(found)}")
    return found[0]


def plan(spec: FaultSpec, *, prefix: str, pods: list[Pod], workloads: list[Workload],
         redis_roles: dict[str, str] | None = None) -> Action:
    """What to act on for `spec`. `redis_roles`: pod name -> "master"/"slave" (redis-primary-kill)."""
    kind = spec.kind.name
    if kind == "redis-primary-kill":
        redis_pods = sorted(p.name for p in pods if p.app == f"{prefix}-redis" and p.ready)
        if not redis_pods:
            raise InjectionError(f"{spec.text}: no ready pod labelled {NAME_LABEL}={prefix}-redis")
        roles = {i: (redis_roles or {}).get(name, "unknown") for i, name in enumerate(redis_pods)}
        return Action("delete-pod", redis_pods[choose_primary(roles)])
    if kind in ("redis-all-kill", "postgres-restart"):
        w = _one(workloads, f"{prefix}-{kind.split('-')[0]}", "StatefulSet", spec)
        if w.replicas < 1:
            raise InjectionError(f"{spec.text}: statefulset/{w.name} has no replicas to stop")
        return Action("scale", w.name, kind="StatefulSet", replicas=w.replicas)
    if kind == "api-worker-kill":
        api = sorted(p.name for p in pods if p.app == f"{prefix}-api" and p.ready)
        if len(api) < 2:
            raise InjectionError(f"{spec.text}: needs at least 2 ready API pods, found {len(api)}")
        return Action("delete-pod", api[0])
    raise InjectionError(f"{spec.text}: '{kind}' cannot be injected on a cluster (local environment only)")


class KubernetesInjector:  # pragma: no cover - needs a cluster (plan() above is tested)
    """Carries out `plan()` in `namespace` with the current kubeconfig context (or `context`)."""

    def __init__(self, namespace: str, *, prefix: str = "loadline", context: str | None = None):
        from kubernetes import client, config

        try:
            config.load_kube_config(context=context)
        except Exception as exc:  # noqa: BLE001 - the client raises several unrelated types
            raise InjectionError(f"no usable kubeconfig{f' context {context}' if context else ''}: {exc}") from None
        self.core = client.CoreV1Api()
        self.apps = client.AppsV1Api()
        self.namespace = namespace
        self.prefix = prefix

    def _pods(self) -> list[Pod]:
        out = []
        for p in self.core.list_namespaced_pod(self.namespace).items:
            conds = p.status.conditions or []
            ready = any(c.type == "Ready" and c.status == "True" for c in conds)
            out.append(Pod(p.metadata.name, (p.metadata.labels or {}).get(NAME_LABEL, ""), ready))
        return out

    def _workloads(self) -> list[Workload]:
        out = []
        for kind, items in (("StatefulSet", self.apps.list_namespaced_stateful_set(self.namespace).items),
                            ("Deployment", self.apps.list_namespaced_deployment(self.namespace).items)):
            for w in items:
                out.append(Workload(kind, w.metadata.name, (w.metadata.labels or {}).get(NAME_LABEL, ""),
                                    w.spec.replicas or 0))
        return out

    def _redis_roles(self, pods: list[Pod]) -> dict[str, str]:
        from kubernetes.stream import stream

        roles = {}
        for p in pods:
            if p.app != f"{self.prefix}-redis":
                continue
            try:
                out: Any = stream(self.core.connect_get_namespaced_pod_exec, p.name, self.namespace,
                                  command=["redis-cli", "role"], stderr=True, stdout=True, stdin=False, tty=False)
                roles[p.name] = str(out).split()[0] if out else "unknown"
            except Exception:  # noqa: BLE001 - an unreachable pod is simply not a candidate
                roles[p.name] = "unreachable"
        return roles

    def _scale(self, name: str, replicas: int) -> None:
        self.apps.patch_namespaced_stateful_set_scale(name, self.namespace, {"spec": {"replicas": replicas}})

    def _wait_ready(self, name: str, replicas: int) -> None:
        deadline = time.monotonic() + SCALE_WAIT_S
        while time.monotonic() < deadline:
            st = self.apps.read_namespaced_stateful_set(name, self.namespace).status
            if (st.ready_replicas or 0) >= replicas:
                return
            time.sleep(1)
        raise InjectionError(f"statefulset/{name}: not back to {replicas} ready replicas after {SCALE_WAIT_S} s")

    def inject(self, spec: FaultSpec) -> Applied:
        pods = self._pods()
        roles = self._redis_roles(pods) if spec.kind.name == "redis-primary-kill" else None
        action = plan(spec, prefix=self.prefix, pods=pods, workloads=self._workloads(), redis_roles=roles)
        if action.verb == "delete-pod":
            self.core.delete_namespaced_pod(action.name, self.namespace, grace_period_seconds=0)
            return Applied(target=action.describe(), restore=lambda: None)
        self._scale(action.name, 0)

        def restore() -> None:
            self._scale(action.name, action.replicas)
            self._wait_ready(action.name, action.replicas)

        return Applied(target=action.describe(), restore=restore)
