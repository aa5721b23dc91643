"""The vocabulary every policy shares: a policy's spec, its context, and what it finds.

Policies are pure functions over Kubernetes objects as manifests (dicts, camelCase).
The same functions run under `pulumi preview --policy-pack policies` (through the
adapters in `pulumi_adapters.py`) and offline in `loadline check`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from loadline.core import ENVIRONMENTS as ENVIRONMENTS  # the environment kinds, shared with the profile

Obj = Mapping[str, Any]


class Level(str, Enum):
    """How a violation counts: only a mandatory one fails `loadline check` and blocks a deploy."""

    MANDATORY = "mandatory"
    ADVISORY = "advisory"
    DISABLED = "disabled"



# Production-like stacks are held to the guardrails; the others are warned only, so a
# developer can iterate without being blocked but still sees every finding.
ENVIRONMENT_ENFORCEMENT: dict[str, Level] = {
    "prod": Level.MANDATORY,
    "staging": Level.MANDATORY,
    "dev": Level.ADVISORY,
    "review": Level.ADVISORY,
    "local": Level.ADVISORY,
}


def enforcement_for(environment: str | None) -> Level:
    """The level an environment runs at; an unknown environment gets the strict one."""
    return ENVIRONMENT_ENFORCEMENT.get(environment or "", Level.MANDATORY)


_RANK = {Level.DISABLED: 0, Level.ADVISORY: 1, Level.MANDATORY: 2}


def lower(a: Level, b: Level) -> Level:
    return a if _RANK[a] <= _RANK[b] else b


class _Unknown:
    """A value Pulumi cannot know during preview (e.g. a generated password)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown during preview>"

    __str__ = __repr__


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Context:
    """What a policy may know beyond the object itself."""

    environment: str = "prod"
    """dev|staging|prod|review|local; prod-only policies look at it."""
    slo_targets: tuple[str, ...] | None = None
    """The profile's SLO targets (p95_ms, ...); None when no profile is known."""
    allowed_registries: tuple[str, ...] = ()
    """When non-empty, images must come from one of these registries (e.g. ghcr.io/loadline)."""
    clear_text_config: Mapping[str, str] = field(default_factory=dict)
    """Clear-text (non-secure) stack config values -> their key; a Secret must not carry them."""
    secrets_marked: bool = True
    """True when secret values arrive masked or marked (offline render, manifests); False under
    the Pulumi policy SDK, which hands validations unwrapped values, so only the config
    comparison can tell a clear-text origin there."""
    alert_rule_files: tuple[Mapping[str, Any], ...] = ()
    """Prometheus rule files known besides the objects (the render's alert_rules)."""
    prometheus_configs: tuple[Mapping[str, Any], ...] = ()
    """prometheus.yml contents known besides the objects (the render's prometheus_config)."""


ResourceCheck = Callable[[Obj, Context], list[str]]
StackCheck = Callable[[Sequence[Obj], Context], list[tuple[Obj | None, str]]]


@dataclass(frozen=True)
class PolicySpec:
    name: str
    """Stable id; also the suffix of the exemption annotation."""
    description: str
    hint: str
    """How to fix a violation, shown with each one."""
    scope: Literal["resource", "stack"]
    check: Callable[..., Any]
    kinds: frozenset[str] | None = None
    """Kinds a resource policy looks at (None: every kind)."""
    mandatory_in: frozenset[str] | None = None
    """Environments where this policy may block; elsewhere it is advisory at most.
    None: it follows the environment's level everywhere, like most policies."""

    def level_in(self, environment: str | None, level: Level) -> Level:
        """This policy's level where the pack runs at `level`; an unknown environment counts as prod."""
        if self.mandatory_in is None or (environment or "prod") in self.mandatory_in:
            return level
        return lower(level, Level.ADVISORY)


@dataclass(frozen=True)
class Finding:
    policy: str
    resource: str
    """`Kind namespace/name`, or `(stack)` for a finding about the whole stack."""
    message: str
    hint: str
    level: Level = Level.MANDATORY
    exempt_reason: str | None = None
    """Set when the resource carries a valid exemption for this policy."""

    @property
    def exempted(self) -> bool:
        return self.exempt_reason is not None

    def as_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "resource": self.resource, "message": self.message,
                "hint": self.hint, "level": self.level.value,
                "exempted": self.exempted, "exemptReason": self.exempt_reason}
