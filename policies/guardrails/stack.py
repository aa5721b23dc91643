"""Network isolation across the stack: default deny in every namespace, explicit allows per workload."""

from __future__ import annotations

from collections.abc import Sequence

from policies.guardrails import k8s
from policies.guardrails.model import Context, Obj, PolicySpec


def _policy_types(np: Obj) -> set[str]:
    spec = k8s.as_dict(np.get("spec"))
    declared = k8s.as_list(spec.get("policyTypes"))
    if declared:
        return {str(t) for t in declared}
    # The API server's defaulting: Ingress always, Egress only when egress rules exist.
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def _selects_all(np: Obj) -> bool:
    sel = k8s.get(np, "spec", "podSelector")
    sel = k8s.as_dict(sel)
    return not k8s.as_dict(sel.get("matchLabels")) and not k8s.as_list(sel.get("matchExpressions"))


def denied_directions(np: Obj) -> set[str]:
    """Directions this NetworkPolicy denies by default for every pod of its namespace."""
    if not _selects_all(np):
        return set()
    spec = k8s.as_dict(np.get("spec"))
    types = _policy_types(np)
    return {d for d, rules in (("Ingress", "ingress"), ("Egress", "egress"))
            if d in types and not k8s.as_list(spec.get(rules))}


def _allows(np: Obj) -> bool:
    spec = k8s.as_dict(np.get("spec"))
    return bool(k8s.as_list(spec.get("ingress")) or k8s.as_list(spec.get("egress")))


def _namespace_obj(ns: str, objects: Sequence[Obj]) -> Obj:
    for o in objects:
        if k8s.kind(o) == "Namespace" and k8s.name(o) == ns:
            return o
    return {"kind": "Namespace", "metadata": {"name": ns}}


def network_policies(objects: Sequence[Obj], ctx: Context) -> list[tuple[Obj | None, str]]:
    workloads = [o for o in objects if k8s.kind(o) in k8s.POD_KINDS]
    out: list[tuple[Obj | None, str]] = []
    for ns in sorted({k8s.namespace(w) for w in workloads}):
        netpols = [o for o in objects if k8s.kind(o) == "NetworkPolicy" and k8s.namespace(o) == ns]
        denied: set[str] = set()
        for np in netpols:
            denied |= denied_directions(np)
        missing = [d for d in ("Ingress", "Egress") if d not in denied]
        if missing:
            out.append((_namespace_obj(ns, objects),
                        f"holds workloads but no NetworkPolicy denies {' and '.join(missing)} by default "
                        "(podSelector: {} with no rules)"))
        for w in (w for w in workloads if k8s.namespace(w) == ns):
            pod_labels = k8s.pod_labels(w)
            # Namespace-wide allows (podSelector: {}, e.g. DNS) do not count: each workload
            # needs a policy that names its pods and states the traffic it may have.
            if not any(_allows(np) and not _selects_all(np)
                       and k8s.selector_matches(k8s.get(np, "spec", "podSelector"), pod_labels)
                       for np in netpols):
                out.append((w, "no NetworkPolicy selects its pods by label with an explicit allow rule"))
    return out


POLICIES = [
    PolicySpec(
        name="network-policy-default-deny",
        description="Every namespace holding workloads has a default-deny NetworkPolicy (Ingress and "
                    "Egress), and every workload's pods are selected by an explicit allow.",
        hint="add a NetworkPolicy with podSelector: {} and policyTypes [Ingress, Egress] and no rules, "
             "plus one per component that allows exactly the traffic it needs",
        scope="stack", check=network_policies),
]
