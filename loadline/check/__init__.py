"""`loadline check`: the policy pack's functions run offline, on a rendered stack or a manifest directory.

The same `policies.guardrails` functions that the pack registers with pulumi_policy run
here over every object and over the stack as a whole, so CI gets the verdict of a
`pulumi preview --policy-pack policies` without a Pulumi CLI or a cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from loadline.check.manifests import ManifestError, Manifests, load_manifests
from loadline.profile import STACKS_DIR, Profile, ProfileError, load_profile, read_stack_config
from policies.guardrails import POLICIES, Context, Finding, Level, enforcement_for, evaluate
from policies.guardrails.context import clear_text_values, profile_context

EXIT_OK, EXIT_VIOLATIONS, EXIT_UNREADABLE = 0, 1, 2


@dataclass
class CheckResult:
    source: str
    """What was checked: `stack prod` or `manifests out/prod`."""
    environment: str
    level: Level
    objects: int
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if not f.exempted]

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.violations if f.level is Level.MANDATORY]

    @property
    def advisory(self) -> list[Finding]:
        return [f for f in self.violations if f.level is Level.ADVISORY]

    @property
    def exempted(self) -> list[Finding]:
        return [f for f in self.findings if f.exempted]

    @property
    def exit_code(self) -> int:
        return EXIT_VIOLATIONS if self.mandatory else EXIT_OK


def check_objects(objects: Sequence[dict[str, Any]], ctx: Context, *, source: str,
                  level: Level | None = None, notes: Sequence[str] = ()) -> CheckResult:
    level = level or enforcement_for(ctx.environment)
    return CheckResult(source=source, environment=ctx.environment, level=level, objects=len(objects),
                       findings=evaluate(objects, ctx, POLICIES, level), notes=list(notes))


def stack_clear_text(stack: str, stacks_dir: Path = STACKS_DIR) -> dict[str, str]:
    """Clear-text values of the stack file's config (secure values are `{secure: ...}` and skipped)."""
    return clear_text_values(read_stack_config(stack, stacks_dir))


def check_stack(stack: str, *, level: Level | None = None, allowed_registries: Sequence[str] = (),
                stacks_dir: Path = STACKS_DIR) -> CheckResult:
    """Render `stack` offline and check it. Raises ProfileError for a bad profile."""
    from loadline.render import render_stack  # imported late: rendering loads the whole program

    result = render_stack(stack, stacks_dir=stacks_dir)
    extra: dict[str, Any] = {}
    if result.alert_rules is not None:
        extra["alert_rule_files"] = (result.alert_rules,)
    if result.prometheus_config is not None:
        extra["prometheus_configs"] = (result.prometheus_config,)
    ctx = profile_context(result.profile, allowed_registries=tuple(allowed_registries),
                          clear_text_config=stack_clear_text(stack, stacks_dir), **extra)
    return check_objects(result.manifests, ctx, source=f"stack {stack}", level=level)


def check_manifests(directory: Path | str, *, level: Level = Level.MANDATORY,
                    environment: str | None = None, profile: Profile | None = None,
                    allowed_registries: Sequence[str] = ()) -> CheckResult:
    """Check a directory of Kubernetes YAML. Raises ManifestError when it cannot be read."""
    loaded: Manifests = load_manifests(directory)
    notes = []
    common: dict[str, Any] = {"allowed_registries": tuple(allowed_registries),
                              "alert_rule_files": tuple(loaded.rule_files),
                              "prometheus_configs": tuple(loaded.prometheus_configs)}
    if profile is not None:
        ctx = profile_context(profile, **common)
        if environment:
            ctx = replace(ctx, environment=environment)
    else:
        ctx = Context(environment=environment or "prod", **common)
        notes.append("slo-alert-rules not evaluated: no profile gives the SLO targets (pass --profile STACK)")
    if environment is None and profile is None:
        notes.append("environment taken as prod (strictest); pass --environment or --profile to change it")
    return check_objects(loaded.objects, ctx, source=f"manifests {directory}", level=level, notes=notes)


__all__ = ["CheckResult", "EXIT_OK", "EXIT_UNREADABLE", "EXIT_VIOLATIONS", "ManifestError",
           "ProfileError", "check_manifests", "check_objects", "check_stack", "load_profile"]
