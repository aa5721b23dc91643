"""Availability under drains and scaling: PDBs, spread, HPA floors and replica ownership."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from policies.guardrails import k8s
from policies.guardrails.model import Context, Obj, PolicySpec

PROD = "prod"


def hpas_targeting(workload: Obj, objects: Sequence[Obj]) -> list[Obj]:
    """HorizontalPodAutoscalers whose scaleTargetRef names this workload (same namespace)."""
    out = []
    for hpa in objects:
        if k8s.kind(hpa) != "HorizontalPodAutoscaler" or k8s.namespace(hpa) != k8s.namespace(workload):
            continue
        target = k8s.as_dict(k8s.get(hpa, "spec", "scaleTargetRef"))
        if target.get("kind") == k8s.kind(workload) and target.get("name") == k8s.get(workload, "metadata", "name"):
            out.append(hpa)
    return out


def hpa_min(hpa: Obj) -> float:
    value = k8s.number(k8s.get(hpa, "spec", "minReplicas"))
    return 1.0 if value is None else value  # the API server's default


def replica_range(workload: Obj, objects: Sequence[Obj]) -> tuple[float, float]:
    """(floor, ceiling) of the workload's replicas: the HPA's bounds when one targets it."""
    hpas = hpas_targeting(workload, objects)
    if hpas:
        floor = min(hpa_min(h) for h in hpas)
        ceiling = max(k8s.number(k8s.get(h, "spec", "maxReplicas")) or floor for h in hpas)
        return floor, ceiling
    replicas = k8s.number(k8s.get(workload, "spec", "replicas"))
    replicas = 1.0 if replicas is None else replicas
    return replicas, replicas


def _scalable(objects: Sequence[Obj]) -> list[Obj]:
    return [o for o in objects if k8s.kind(o) in k8s.SCALABLE_KINDS]


def pdbs_covering(workload: Obj, objects: Sequence[Obj]) -> list[Obj]:
    pod_labels = k8s.pod_labels(workload)
    return [p for p in objects
            if k8s.kind(p) == "PodDisruptionBudget" and k8s.namespace(p) == k8s.namespace(workload)
            and k8s.as_dict(k8s.get(p, "spec", "selector"))
            and k8s.selector_matches(k8s.get(p, "spec", "selector"), pod_labels)]


def pdb_for_replicated(objects: Sequence[Obj], ctx: Context) -> list[tuple[Obj | None, str]]:
    out: list[tuple[Obj | None, str]] = []
    for w in _scalable(objects):
        _, ceiling = replica_range(w, objects)
        if ceiling > 1 and not pdbs_covering(w, objects):
            out.append((w, f"runs up to {ceiling:g} replicas but no PodDisruptionBudget selects its pods"))
    return out


def _has_spread(pod_spec: Any) -> bool:
    spread = k8s.as_list(k8s.get(pod_spec, "topologySpreadConstraints"))
    anti = k8s.as_dict(k8s.get(pod_spec, "affinity", "podAntiAffinity"))
    return bool(spread) or any(k8s.as_list(anti.get(k)) for k in (
        "requiredDuringSchedulingIgnoredDuringExecution",
        "preferredDuringSchedulingIgnoredDuringExecution"))


def prod_spread(objects: Sequence[Obj], ctx: Context) -> list[tuple[Obj | None, str]]:
    if ctx.environment != PROD:
        return []
    out: list[tuple[Obj | None, str]] = []
    for w in _scalable(objects):
        _, ceiling = replica_range(w, objects)
        tpl = k8s.pod_template(w)
        if ceiling > 1 and tpl and not _has_spread(tpl[1]):
            out.append((w, f"runs up to {ceiling:g} replicas in prod with neither podAntiAffinity "
                           "nor topologySpreadConstraints"))
    return out


def prod_hpa_min_replicas(obj: Obj, ctx: Context) -> list[str]:
    if ctx.environment != PROD:
        return []
    floor = hpa_min(obj)
    if floor < 2:
        return [f"minReplicas is {floor:g} in prod; one pod restart would take the service down"]
    return []


def hpa_owns_replicas(objects: Sequence[Obj], ctx: Context) -> list[tuple[Obj | None, str]]:
    out: list[tuple[Obj | None, str]] = []
    for w in _scalable(objects):
        hpas = hpas_targeting(w, objects)
        replicas = k8s.get(w, "spec", "replicas")
        if hpas and replicas is not None:
            out.append((w, f"sets spec.replicas ({replicas}) although HorizontalPodAutoscaler "
                           f"{k8s.name(hpas[0])} owns the replica count"))
    return out


def _blocked_by(pdb: Obj, floor: float) -> str | None:
    """Why this PDB forbids every eviction when only `floor` pods run, or None."""
    spec = k8s.as_dict(pdb.get("spec"))
    if "minAvailable" in spec:
        raw = spec["minAvailable"]
        needed: float
        if isinstance(raw, str) and raw.endswith("%"):
            needed = math.ceil(float(raw[:-1]) * floor / 100)
        else:
            n = k8s.number(raw)
            if n is None:
                return None
            needed = n
        if needed >= floor:
            return f"minAvailable {raw} is not below the {floor:g} replicas it may run with"
    if "maxUnavailable" in spec:
        raw = spec["maxUnavailable"]
        if raw in (0, 0.0, "0", "0%"):
            return f"maxUnavailable {raw} forbids every voluntary eviction"
    return None


def pdb_allows_eviction(objects: Sequence[Obj], ctx: Context) -> list[tuple[Obj | None, str]]:
    out: list[tuple[Obj | None, str]] = []
    for w in _scalable(objects):
        floor, _ = replica_range(w, objects)
        hpas = hpas_targeting(w, objects)
        for pdb in pdbs_covering(w, objects):
            why = _blocked_by(pdb, floor)
            if why:
                source = f"HPA {k8s.name(hpas[0])} minReplicas" if hpas else "spec.replicas"
                out.append((pdb, f"{why} ({source} of {k8s.ref(w)}): a node drain can never proceed"))
    return out


POLICIES = [
    PolicySpec(
        name="pdb-for-replicated",
        description="Every workload that can run more than one replica has a PodDisruptionBudget.",
        hint="add a PodDisruptionBudget selecting the pods (maxUnavailable: 1, or minAvailable below the replica floor)",
        scope="stack", check=pdb_for_replicated),
    PolicySpec(
        name="prod-pod-spread",
        description="In prod, replicated workloads spread their pods with anti-affinity or topology spread.",
        hint="add topologySpreadConstraints over kubernetes.io/hostname (and zone) or a podAntiAffinity "
             "on the pod labels",
        scope="stack", check=prod_spread),
    PolicySpec(
        name="prod-hpa-min-replicas",
        description="In prod, every HorizontalPodAutoscaler keeps at least 2 replicas.",
        hint="set minReplicas >= 2 (profile key api.hpa.minReplicas)",
        scope="resource", check=prod_hpa_min_replicas, kinds=frozenset({"HorizontalPodAutoscaler"})),
    PolicySpec(
        name="hpa-owns-replicas",
        description="A workload targeted by an HPA sets no spec.replicas, so Pulumi and the HPA never fight over it.",
        hint="remove spec.replicas from the workload; the HPA's minReplicas sets the floor",
        scope="stack", check=hpa_owns_replicas),
    PolicySpec(
        name="pdb-allows-eviction",
        description="A PodDisruptionBudget leaves room to evict a pod: minAvailable below the HPA's "
                    "minReplicas (or the fixed replica count), maxUnavailable above 0.",
        hint="set minAvailable to at most the replica floor minus one, or use maxUnavailable: 1",
        scope="stack", check=pdb_allows_eviction),
]
