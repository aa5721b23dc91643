"""Shared building blocks: the common labels, hardened security contexts, resource blocks.

Kept here so every component produces the same label set and the same hardening,
which the policy pack checks object by object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from loadline.profile import Profile, Resources

PART_OF = "loadline"
MANAGED_BY = "pulumi"
CLUSTER_DOMAIN = "cluster.local"


def dns(service: str, namespace: str, *, pod: str | None = None, port: int | None = None,
        scheme: str | None = None) -> str:
    """The in-cluster DNS name of a Service, or of one pod behind a headless Service.

    `[scheme://][pod.]service.namespace.svc.cluster.local[:port]`: the one place that
    knows the cluster's naming, so a Service rename moves every reference with it.
    """
    host = f"{service}.{namespace}.svc.{CLUSTER_DOMAIN}"
    if pod is not None:
        host = f"{pod}.{host}"
    if port is not None:
        host = f"{host}:{port}"
    return f"{scheme}://{host}" if scheme else host


class Workload(pulumi.ComponentResource):
    """A component that deploys one workload under one name.

    Holds what every such component starts from: its name and args, the namespace, the options
    that parent its children to it, its labels and the selector its Services and pods share.
    """

    def __init__(self, t: str, name: str, args: Any, *, instance: str, component: str,
                 version: str | None, extra: Mapping[str, str], opts: pulumi.ResourceOptions | None):
        super().__init__(t, name, None, opts)
        self._name = name
        self._args = args
        self._ns = args.namespace
        self._child = pulumi.ResourceOptions(parent=self)
        self._lbl = labels(name=name, instance=instance, component=component, version=version, extra=extra)
        self._sel = selector(name=name, instance=instance)


def labels(*, name: str, instance: str, component: str, version: str | None = None,
           extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The `app.kubernetes.io/*` labels every object carries, plus stack-wide extras."""
    out = dict(extra or {})
    out.update({
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    })
    if version:
        out["app.kubernetes.io/version"] = version
    return out


def selector(*, name: str, instance: str) -> dict[str, str]:
    """The immutable subset of labels used by selectors (never the version)."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance}


def metadata(name: str, namespace: pulumi.Input[str], lbls: Mapping[str, str],
             annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(lbls)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def service_spec(selector: Mapping[str, str], *ports: tuple[str, int], headless: bool = False,
                 **extra: Any) -> dict[str, Any]:
    """A Service spec with named TCP ports, each sent to the container port of the same name.

    ClusterIP by default; `headless=True` gives the per-pod DNS names a StatefulSet needs.
    """
    spec: dict[str, Any] = {"clusterIP": "None"} if headless else {"type": "ClusterIP"}
    spec.update(extra)
    spec["selector"] = dict(selector)
    spec["ports"] = [{"name": n, "port": port, "targetPort": n, "protocol": "TCP"} for n, port in ports]
    return spec


def pod_security(uid: int, *, fs_group: int | None = None) -> dict[str, Any]:
    """Pod-level context: non-root with a fixed uid and gid, default seccomp profile.

    fsGroup (the uid's group unless given) owns every volume, so the process can write
    its data and read the Secrets mounted with mode 0440.
    """
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid if fs_group is None else fs_group,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security(uid: int) -> dict[str, Any]:
    """Container-level context: read-only root, no escalation, every capability dropped."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "privileged": False,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


SECRETS_DIR = "/run/secrets"
# Owner and group may read: the kubelet writes Secret files as root with the pod's fsGroup,
# so a non-root container reads them through that group. Nobody may write them.
SECRET_FILE_MODE = 0o440
EXEMPT_IMAGE_DIGESTS = "policy.loadline.dev/exempt.image-digests"


def secret_volume(name: str, secret_name: pulumi.Input[str], files: Mapping[str, str]) -> dict[str, Any]:
    """A volume with the Secret's `files` keys as files (key -> file name), read-only for the pod's group."""
    return {"name": name, "secret": {"secretName": secret_name, "defaultMode": SECRET_FILE_MODE,
                                     "items": [{"key": k, "path": path} for k, path in files.items()]}}


def secret_mount(name: str, directory: str) -> dict[str, Any]:
    return {"name": name, "mountPath": directory, "readOnly": True}


def workload_annotations(profile: Profile) -> dict[str, str]:
    """Annotations every workload of the stack carries: the profile's exemption for unpinned images."""
    reason = profile.images.unpinned_reason
    return {EXEMPT_IMAGE_DIGESTS: reason} if reason else {}


def resources(res: Resources) -> dict[str, Any]:
    return {
        "requests": {"cpu": res.requests.cpu, "memory": res.requests.memory},
        "limits": {"cpu": res.limits.cpu, "memory": res.limits.memory},
    }


def small_resources(cpu: str = "50m", memory: str = "64Mi", cpu_limit: str = "200m",
                    memory_limit: str = "128Mi") -> dict[str, Any]:
    """Requests and limits for sidecars and helper jobs that the profile does not size."""
    return {"requests": {"cpu": cpu, "memory": memory},
            "limits": {"cpu": cpu_limit, "memory": memory_limit}}


def spread(match: Mapping[str, str], *, strict: bool) -> list[dict[str, Any]]:
    """Spread pods over nodes (and zones when the cluster has them).

    `strict` refuses to co-locate replicas on one node; it is used only where the
    replica count is fixed, because under an HPA it would block scale-up on small clusters.
    """
    return [
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
         "whenUnsatisfiable": "DoNotSchedule" if strict else "ScheduleAnyway",
         "labelSelector": {"matchLabels": dict(match)}},
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
         "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": dict(match)}},
    ]


def anti_affinity(match: Mapping[str, str]) -> dict[str, Any]:
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100,
        "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": dict(match)}},
    }]}}


def exec_probe(command: list[str], *, period: int = 10, failures: int = 3, delay: int = 5) -> dict[str, Any]:
    return {"exec": {"command": command}, "initialDelaySeconds": delay, "periodSeconds": period,
            "timeoutSeconds": 5, "failureThreshold": failures}


def http_probe(path: str, port: int | str, *, period: int = 10, failures: int = 3, delay: int = 5) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "initialDelaySeconds": delay,
            "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": failures}


def tmp_volume(name: str = "tmp", size: str = "64Mi") -> dict[str, Any]:
    return {"name": name, "emptyDir": {"sizeLimit": size}}


def peer(component: str, instance: str) -> dict[str, Any]:
    """A NetworkPolicy peer: the stack's pods of one `app.kubernetes.io/component`."""
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/component": component,
                                            "app.kubernetes.io/instance": instance}}}


def tcp(*ports: int) -> list[dict[str, Any]]:
    """NetworkPolicy ports, all TCP."""
    return [{"protocol": "TCP", "port": p} for p in ports]


def http_port(port: int) -> list[dict[str, Any]]:
    """A container's one named `http` port, which Services and probes refer to by name."""
    return [{"name": "http", "containerPort": port, "protocol": "TCP"}]


def hardened_pod(uid: int, *, token: bool = False) -> dict[str, Any]:
    """Pod-spec fields every workload starts from: the API token only when asked for, high ids.

    `token=True` is for the few pods that call the Kubernetes API; they also carry an
    exemption annotation with the reason, which the policy pack requires.
    """
    return {"automountServiceAccountToken": token, "securityContext": pod_security(uid, fs_group=uid)}


def hardened(uid: int, res: Mapping[str, Any]) -> dict[str, Any]:
    """Container fields every container carries: its requests and limits, and the locked-down context."""
    return {"resources": dict(res), "securityContext": container_security(uid)}


def job_service(name: str, namespace: pulumi.Input[str], lbls: Mapping[str, str], sel: Mapping[str, str],
                *, job: str, port: int, opts: pulumi.ResourceOptions) -> k8s.core.v1.Service:
    """The ClusterIP Service of a monitoring workload, labelled with the scrape job that reads it."""
    return k8s.core.v1.Service(
        f"{name}-svc",
        metadata=metadata(name, namespace, {**lbls, "loadline.dev/job": job}),
        spec=service_spec(sel, ("http", port)),
        opts=opts,
    )


def api_server_egress() -> list[dict[str, Any]]:
    """Egress to the Kubernetes API server, for the few pods that call it.

    The API server's address differs per cluster (and is no pod), so any address is
    allowed, on its two usual ports only.
    """
    return [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": tcp(443, 6443)}]
