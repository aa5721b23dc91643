"""Reading Kubernetes objects defensively: a malformed manifest must yield findings, not crashes."""

# No `from __future__ import annotations`: this module's own `annotations()` would shadow it.
from collections.abc import Iterator, Mapping
from typing import Any

from policies.guardrails.model import Obj

POD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                       "ReplicationController", "Job", "CronJob", "Pod"})
LONG_RUNNING_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                                "ReplicationController", "Pod"})
SCALABLE_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})


def get(obj: Any, *path: str | int) -> Any:
    """obj[path[0]][path[1]]..., or None as soon as a step is missing or of the wrong type."""
    cur = obj
    for step in path:
        if isinstance(step, int):
            if not isinstance(cur, (list, tuple)) or step >= len(cur):
                return None
        elif not isinstance(cur, Mapping):
            return None
        try:
            cur = cur[step]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def kind(obj: Obj) -> str:
    k = obj.get("kind")
    return k if isinstance(k, str) else ""


def name(obj: Obj) -> str:
    n = get(obj, "metadata", "name")
    return str(n) if n is not None else "(unnamed)"


def namespace(obj: Obj) -> str:
    ns = get(obj, "metadata", "namespace")
    return str(ns) if ns not in (None, "") else "default"


def ref(obj: Obj) -> str:
    """`Kind namespace/name`: how findings name a resource."""
    k = kind(obj) or "(no kind)"
    if k == "Namespace":
        return f"Namespace {name(obj)}"
    return f"{k} {namespace(obj)}/{name(obj)}"


def labels(obj: Obj) -> Mapping[str, Any]:
    return as_dict(get(obj, "metadata", "labels"))


def annotations(obj: Obj) -> Mapping[str, Any]:
    return as_dict(get(obj, "metadata", "annotations"))


def pod_template(obj: Obj) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """(pod metadata, pod spec) of any object that runs pods, else None."""
    k = kind(obj)
    if k == "Pod":
        return as_dict(obj.get("metadata")), as_dict(obj.get("spec"))
    if k == "CronJob":
        tpl = get(obj, "spec", "jobTemplate", "spec", "template")
    elif k in POD_KINDS:
        tpl = get(obj, "spec", "template")
    else:
        return None
    return as_dict(get(tpl, "metadata")), as_dict(get(tpl, "spec"))


def pod_labels(obj: Obj) -> Mapping[str, Any]:
    tpl = pod_template(obj)
    return as_dict(tpl[0].get("labels")) if tpl else {}


def containers(pod_spec: Mapping[str, Any], *, init: bool = True) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(`container <name>` or `initContainer <name>`, container) for each container."""
    for c in as_list(pod_spec.get("containers")):
        if isinstance(c, Mapping):
            yield f"container {c.get('name', '?')}", c
    if init:
        for c in as_list(pod_spec.get("initContainers")):
            if isinstance(c, Mapping):
                yield f"initContainer {c.get('name', '?')}", c


def is_long_running(obj: Obj) -> bool:
    k = kind(obj)
    if k not in LONG_RUNNING_KINDS:
        return False
    if k == "Pod":
        return get(obj, "spec", "restartPolicy") in (None, "Always")
    return True


def number(value: Any) -> float | None:
    """An int or float (Pulumi hands numbers over as floats), never a bool."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None


def selector_matches(selector: Any, target_labels: Mapping[str, Any]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against labels; an empty selector matches all."""
    sel = as_dict(selector)
    for k, v in as_dict(sel.get("matchLabels")).items():
        if target_labels.get(k) != v:
            return False
    for expr in as_list(sel.get("matchExpressions")):
        expr = as_dict(expr)
        key, op, values = str(expr.get("key")), expr.get("operator"), as_list(expr.get("values"))
        present = key in target_labels
        if op == "In" and not (present and target_labels[key] in values):
            return False
        if op == "NotIn" and present and target_labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def service_selects(service: Obj, target_labels: Mapping[str, Any]) -> bool:
    """A Service's plain selector map; a Service without selector selects nothing here."""
    sel = as_dict(get(service, "spec", "selector"))
    return bool(sel) and all(target_labels.get(k) == v for k, v in sel.items())
