"""Evaluate every policy over a set of objects: the offline twin of a Pulumi preview."""

from __future__ import annotations

from collections.abc import Sequence

from policies.guardrails import k8s
from policies.guardrails.exemptions import exemption
from policies.guardrails.model import Context, Finding, Level, Obj, PolicySpec, enforcement_for

STACK = "(stack)"


def _finding(spec: PolicySpec, obj: Obj | None, message: str, level: Level) -> Finding:
    return Finding(policy=spec.name, resource=k8s.ref(obj) if obj is not None else STACK,
                   message=message, hint=spec.hint, level=level,
                   exempt_reason=exemption(obj, spec.name))


def evaluate(objects: Sequence[Obj], ctx: Context, policies: Sequence[PolicySpec],
             level: Level | None = None) -> list[Finding]:
    """Findings of `policies` over `objects`, exempted ones included (marked), in policy order."""
    pack_level = level or enforcement_for(ctx.environment)
    if pack_level is Level.DISABLED:
        return []
    findings: list[Finding] = []
    for spec in policies:
        level = spec.level_in(ctx.environment, pack_level)
        try:
            if spec.scope == "resource":
                for obj in objects:
                    if spec.kinds is not None and k8s.kind(obj) not in spec.kinds:
                        continue
                    findings.extend(_finding(spec, obj, m, level) for m in spec.check(obj, ctx))
            else:
                findings.extend(_finding(spec, obj, m, level) for obj, m in spec.check(objects, ctx))
        except Exception as exc:  # a malformed object must not hide every other finding
            findings.append(Finding(policy=spec.name, resource=STACK, hint=spec.hint, level=level,
                                    message=f"could not be evaluated: {type(exc).__name__}: {exc}"))
    return findings
