"""loadline's guardrails: pure policy functions over Kubernetes objects.

Importing this package never starts a policy server; only `policies/__main__.py` calls
`PolicyPack(...)`. `loadline check` and the tests use `POLICIES` and `evaluate` directly.
"""

from __future__ import annotations

from policies.guardrails import availability, images, monitoring, secrets, stack, workloads
from policies.guardrails.engine import STACK, evaluate
from policies.guardrails.exemptions import PREFIX as EXEMPT_PREFIX
from policies.guardrails.exemptions import exemption, make_policy
from policies.guardrails.model import (
    ENVIRONMENT_ENFORCEMENT,
    ENVIRONMENTS,
    UNKNOWN,
    Context,
    Finding,
    Level,
    PolicySpec,
    enforcement_for,
)

_CHECKS: list[PolicySpec] = [
    *workloads.POLICIES,
    *images.POLICIES,
    *availability.POLICIES,
    *secrets.POLICIES,
    *stack.POLICIES,
    *monitoring.POLICIES,
]

POLICIES: list[PolicySpec] = [*_CHECKS, make_policy([p.name for p in _CHECKS])]
"""Every policy of the pack, resource checks first, then stack checks, then exemption hygiene."""

BY_NAME: dict[str, PolicySpec] = {p.name: p for p in POLICIES}

__all__ = [
    "BY_NAME", "ENVIRONMENTS", "ENVIRONMENT_ENFORCEMENT", "EXEMPT_PREFIX", "POLICIES", "STACK",
    "UNKNOWN", "Context", "Finding", "Level", "PolicySpec", "enforcement_for", "evaluate", "exemption",
]
