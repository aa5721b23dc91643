"""Pod hardening and sizing: resources, probes, non-root, no privilege, no host namespaces."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.guardrails import k8s
from policies.guardrails.model import Context, Obj, PolicySpec

# Capabilities a hardened container may add back after dropping ALL (binding a low port).
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})


def requests_and_limits(obj: Obj, ctx: Context) -> list[str]:
    tpl = k8s.pod_template(obj)
    if not tpl:
        return []
    out = []
    for label, c in k8s.containers(tpl[1]):
        res = k8s.as_dict(c.get("resources"))
        missing = [f"{part}.{r}" for part in ("requests", "limits") for r in ("cpu", "memory")
                   if k8s.get(res, part, r) in (None, "")]
        if missing:
            out.append(f"{label} has no {', '.join('resources.' + m for m in missing)}")
    return out


def probes(obj: Obj, ctx: Context) -> list[str]:
    if not k8s.is_long_running(obj):
        return []
    tpl = k8s.pod_template(obj)
    if not tpl:
        return []
    out = []
    # Init containers run to completion before the pod serves, so probes do not apply to them.
    for label, c in k8s.containers(tpl[1], init=False):
        missing = [p for p in ("livenessProbe", "readinessProbe") if not isinstance(c.get(p), Mapping) or not c.get(p)]
        if missing:
            out.append(f"{label} has no {' and no '.join(missing)}")
    return out


def _effective(pod_ctx: Mapping[str, Any], c_ctx: Mapping[str, Any], key: str) -> Any:
    """A container's securityContext field wins over the pod's, as in the kubelet."""
    return c_ctx[key] if key in c_ctx else pod_ctx.get(key)


def non_root_read_only(obj: Obj, ctx: Context) -> list[str]:
    tpl = k8s.pod_template(obj)
    if not tpl:
        return []
    pod_ctx = k8s.as_dict(tpl[1].get("securityContext"))
    out = []
    for label, c in k8s.containers(tpl[1]):
        c_ctx = k8s.as_dict(c.get("securityContext"))
        if _effective(pod_ctx, c_ctx, "runAsNonRoot") is not True:
            out.append(f"{label} does not set securityContext.runAsNonRoot: true")
        uid = k8s.number(_effective(pod_ctx, c_ctx, "runAsUser"))
        if uid == 0:
            out.append(f"{label} runs as uid 0 (runAsUser: 0)")
        if c_ctx.get("readOnlyRootFilesystem") is not True:
            out.append(f"{label} does not set securityContext.readOnlyRootFilesystem: true")
    return out


def no_privilege(obj: Obj, ctx: Context) -> list[str]:
    tpl = k8s.pod_template(obj)
    if not tpl:
        return []
    out = []
    for label, c in k8s.containers(tpl[1]):
        c_ctx = k8s.as_dict(c.get("securityContext"))
        if c_ctx.get("privileged") is True:
            out.append(f"{label} is privileged")
        if c_ctx.get("allowPrivilegeEscalation") is not False:
            out.append(f"{label} does not set securityContext.allowPrivilegeEscalation: false")
        caps = k8s.as_dict(c_ctx.get("capabilities"))
        drop = {str(x).upper() for x in k8s.as_list(caps.get("drop"))}
        if "ALL" not in drop:
            out.append(f"{label} does not drop ALL capabilities (securityContext.capabilities.drop)")
        added = sorted({str(x).upper() for x in k8s.as_list(caps.get("add"))} - ALLOWED_ADDED_CAPABILITIES)
        if added:
            out.append(f"{label} adds capabilities {', '.join(added)}")
    return out


def no_host_namespaces(obj: Obj, ctx: Context) -> list[str]:
    tpl = k8s.pod_template(obj)
    if not tpl:
        return []
    return [f"pod spec sets {key}: true" for key in ("hostNetwork", "hostPID", "hostIPC")
            if tpl[1].get(key) is True]


# Below this, ids collide with system and login users of the node (Debian's useradd starts
# human users at 1000, system users below that); a container escape then lands on one.
MIN_ID = 10000


def _low(value: Any) -> bool:
    n = k8s.number(value)
    return n is None or n < MIN_ID


def high_uid_gid(obj: Obj, ctx: Context) -> list[str]:
    tpl = k8s.pod_template(obj)
    if not tpl:
        return []
    pod_ctx = k8s.as_dict(tpl[1].get("securityContext"))
    out = []
    for key, what in (("runAsUser", "uid"), ("runAsGroup", "gid")):
        for label, c in k8s.containers(tpl[1]):
            value = _effective(pod_ctx, k8s.as_dict(c.get("securityContext")), key)
            if value is None:
                out.append(f"{label} sets no {key}, so the image picks its {what}")
            elif _low(value):
                out.append(f"{label} runs with {what} {value} ({key}); use {MIN_ID} or above")
    fs_group = pod_ctx.get("fsGroup")
    if fs_group is None:
        out.append(f"pod sets no securityContext.fsGroup (>= {MIN_ID}), so volumes keep the image's group")
    elif _low(fs_group):
        out.append(f"pod fsGroup {fs_group} is below {MIN_ID}")
    low_groups = [g for g in k8s.as_list(pod_ctx.get("supplementalGroups")) if _low(g)]
    if low_groups:
        out.append(f"pod supplementalGroups {low_groups} are below {MIN_ID}")
    return out


def service_account_token(obj: Obj, ctx: Context) -> list[str]:
    tpl = k8s.pod_template(obj)
    if not tpl or tpl[1].get("automountServiceAccountToken") is False:
        return []
    account = tpl[1].get("serviceAccountName") or tpl[1].get("serviceAccount")
    if account in (None, "", "default"):
        return ["pod mounts the token of the namespace's default ServiceAccount "
                "(automountServiceAccountToken is not false)"]
    return [f"pod mounts the token of ServiceAccount {account} (automountServiceAccountToken is not false)"]


POLICIES = [
    PolicySpec(
        name="resources-requests-limits",
        description="Every container sets CPU and memory requests and limits.",
        hint="set resources.requests.{cpu,memory} and resources.limits.{cpu,memory} on every container "
             "(the profile's `resources` for sized components)",
        scope="resource", check=requests_and_limits, kinds=k8s.POD_KINDS),
    PolicySpec(
        name="probes-liveness-readiness",
        description="Every container of a long-running workload has a liveness and a readiness probe.",
        hint="add livenessProbe and readinessProbe (httpGet /healthz and /readyz, tcpSocket or exec)",
        scope="resource", check=probes, kinds=k8s.LONG_RUNNING_KINDS),
    PolicySpec(
        name="non-root-read-only",
        description="Containers run as non-root with a read-only root filesystem.",
        hint="set securityContext.runAsNonRoot: true with a non-zero runAsUser, and "
             "readOnlyRootFilesystem: true (mount an emptyDir where the process writes, e.g. /tmp)",
        scope="resource", check=non_root_read_only, kinds=k8s.POD_KINDS),
    PolicySpec(
        name="no-privilege",
        description="No privileged container, no privilege escalation, ALL capabilities dropped.",
        hint="set securityContext.privileged: false, allowPrivilegeEscalation: false and "
             "capabilities.drop: [ALL] (add back only NET_BIND_SERVICE if a low port is needed)",
        scope="resource", check=no_privilege, kinds=k8s.POD_KINDS),
    PolicySpec(
        name="no-host-namespaces",
        description="Pods do not share the node's network, PID or IPC namespace.",
        hint="remove hostNetwork, hostPID and hostIPC from the pod spec (use a Service to expose ports)",
        scope="resource", check=no_host_namespaces, kinds=k8s.POD_KINDS),
    PolicySpec(
        name="high-uid-gid",
        description=f"Every container runs with a uid and gid of {MIN_ID} or above, and the pod "
                    f"sets an fsGroup of {MIN_ID} or above, so no id collides with a node's users.",
        hint=f"set securityContext.runAsUser and runAsGroup >= {MIN_ID} on the pod (or each container) "
             f"and fsGroup >= {MIN_ID}, so volumes stay writable for that group",
        scope="resource", check=high_uid_gid, kinds=k8s.POD_KINDS),
    PolicySpec(
        name="service-account-token",
        description="No pod mounts a service account token unless it calls the Kubernetes API: "
                    "automountServiceAccountToken: false on every other pod.",
        hint="set automountServiceAccountToken: false in the pod spec; a pod that calls the API gets its "
             "own ServiceAccount with a least-privilege Role and an exemption annotation saying why",
        scope="resource", check=service_account_token, kinds=k8s.POD_KINDS),
]
