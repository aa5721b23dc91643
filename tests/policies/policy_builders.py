"""Small, compliant Kubernetes objects for policy tests; each test breaks exactly one thing."""

from __future__ import annotations

import copy
from typing import Any

NS = "shop"
LABELS = {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": NS}
DIGEST = "sha256:" + "0123456789abcdef" * 4
IMAGE = f"ghcr.io/acme/web:1.2.3@{DIGEST}"


def container(name: str = "web", image: str = IMAGE, **extra: Any) -> dict[str, Any]:
    c = {
        "name": name,
        "image": image,
        "ports": [{"name": "http", "containerPort": 8000}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                      "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "privileged": False,
                            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
    }
    c.update(extra)
    return c


def deployment(name: str = "web", *, replicas: int | None = None, spread: bool = True,
               annotations: dict[str, str] | None = None, containers: list[dict] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": dict(LABELS)},
        "template": {
            "metadata": {"labels": dict(LABELS)},
            "spec": {"securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                         "fsGroup": 10001},
                     "automountServiceAccountToken": False,
                     "containers": containers or [container()]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if spread:
        spec["template"]["spec"]["topologySpreadConstraints"] = [
            {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": dict(LABELS)}}]
    meta: dict[str, Any] = {"name": name, "namespace": NS, "labels": dict(LABELS)}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def hpa(target: str = "web", min_replicas: int = 2, max_replicas: int = 5) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": target, "namespace": NS},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                     "minReplicas": min_replicas, "maxReplicas": max_replicas}}


def pdb(**budget: Any) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {**(budget or {"maxUnavailable": 1}), "selector": {"matchLabels": dict(LABELS)}}}


def default_deny() -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": NS},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}


def allow_web() -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"podSelector": {"matchLabels": dict(LABELS)}, "policyTypes": ["Ingress"],
                     "ingress": [{"ports": [{"protocol": "TCP", "port": 8000}]}]}}


def service(name: str = "web", *, job: str | None = None, ports: list[dict] | None = None) -> dict[str, Any]:
    labels = dict(LABELS)
    if job:
        labels["loadline.dev/job"] = job
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"selector": dict(LABELS),
                     "ports": ports or [{"name": "http", "port": 80, "targetPort": "http"}]}}


def secret(**string_data: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": NS},
            "type": "Opaque", "stringData": dict(string_data)}


def clean_stack() -> list[dict[str, Any]]:
    """A small app that passes every policy in prod."""
    return [deployment(), hpa(), pdb(), default_deny(), allow_web(), service()]


def copy_of(obj: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(obj)
