"""Per-resource exemptions: `policy.loadline.dev/exempt.<policy-name>: "<reason>"`.

A reason is required: an exemption without one does not exempt and is itself reported,
so every exception to a guardrail carries its justification in the manifest.
"""

from __future__ import annotations

from collections.abc import Collection

from policies.guardrails import k8s
from policies.guardrails.model import Context, Obj, PolicySpec

PREFIX = "policy.loadline.dev/exempt."
POLICY_NAME = "exemption-reasons"


def annotation(policy: str) -> str:
    return f"{PREFIX}{policy}"


def exemption(obj: Obj | None, policy: str) -> str | None:
    """The reason this object is exempt from `policy`, or None when it is not (validly) exempt."""
    if obj is None:
        return None
    reason = k8s.annotations(obj).get(annotation(policy))
    if isinstance(reason, str) and reason.strip():
        return reason.strip()
    return None


def make_policy(known: Collection[str]) -> PolicySpec:
    known_names = frozenset(known)

    def check(obj: Obj, ctx: Context) -> list[str]:
        out = []
        for key, value in k8s.annotations(obj).items():
            if not str(key).startswith(PREFIX):
                continue
            policy = str(key)[len(PREFIX):]
            if policy not in known_names:
                out.append(f"annotation {key} names no policy of this pack")
            elif not isinstance(value, str) or not value.strip():
                out.append(f"annotation {key} has an empty reason, so it exempts nothing")
        return out

    return PolicySpec(
        name=POLICY_NAME,
        description="Every exemption annotation names a policy of the pack and gives a reason.",
        hint=f'write the reason as the value: {PREFIX}<policy-name>: "why this resource may break the rule"',
        scope="resource", check=check)
