"""Wrap the pure guardrails as pulumi_policy policies.

Nothing here starts a policy server: `policies/__main__.py` passes `build_policies()` to
`PolicyPack`. Under the engine, resource inputs arrive as proxies that raise on values
unknown during preview; they are copied to plain dicts first, with `UNKNOWN` standing in,
so a policy decides on what is known instead of aborting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import _is_unknown  # the SDK's own test for preview placeholders

from policies.guardrails import POLICIES, PolicySpec
from policies.guardrails.context import clear_text_values, profile_from_pulumi_config, slo_targets
from policies.guardrails.exemptions import annotation, exemption
from policies.guardrails.k8s import ref
from policies.guardrails.model import ENVIRONMENTS, UNKNOWN, Context, Level, Obj, enforcement_for

PACK_NAME = "loadline-guardrails"
K8S_PREFIX = "kubernetes:"

# URN -> the object as the program declared it. Stack validations receive resource
# *outputs*, i.e. the live object with server defaults (a Deployment under an HPA shows the
# replicas the HPA set); the guardrails judge what the program declares, so the stack
# adapter prefers the inputs that resource validation saw earlier in the same run.
_DECLARED: dict[str, dict[str, Any]] = {}

_CONFIG_PROPERTIES: dict[str, dict[str, Any]] = {
    "environment": {"type": "string", "enum": list(ENVIRONMENTS),
                    "description": "overrides the environment read from the stack's loadline:profile"},
}
_EXTRA_PROPERTIES: dict[str, dict[str, dict[str, Any]]] = {
    "images-pinned": {"allowedRegistries": {
        "type": "array", "items": {"type": "string"},
        "description": "registries (or registry/path prefixes) images must come from; empty allows any"}},
}


def plain(value: Any) -> Any:
    """A deep copy of policy SDK proxies as dicts/lists, unknown placeholders as UNKNOWN."""
    if isinstance(value, Mapping):
        try:
            target = value["__target"]
        except (KeyError, TypeError):
            target = value
        return {k: plain(target[k]) for k in target}
    if isinstance(value, (list, tuple)) or type(value).__name__ in ("_ListProxy", "_ListSecretsProxy"):
        try:
            target = value["__target"]
        except (KeyError, TypeError, IndexError):
            target = value
        return [plain(v) for v in target]
    if _is_unknown(value):
        return UNKNOWN
    return value


def to_object(resource_type: str, props: Any) -> dict[str, Any] | None:
    """A Kubernetes resource's inputs as a manifest dict; None for any other resource."""
    if not resource_type.startswith(K8S_PREFIX):
        return None
    parts = resource_type.split(":")
    if len(parts) != 3:
        return None
    group_version, kind = parts[1], parts[2]
    if kind.endswith("List") or group_version.startswith(("helm.sh", "yaml", "kustomize")):
        return None
    obj = plain(props)
    if not isinstance(obj, dict):
        return None
    # The type token is authoritative; inputs may omit apiVersion/kind before the provider's Check.
    obj["apiVersion"] = group_version.removeprefix("core/")
    obj["kind"] = kind
    return obj


def _env_config() -> tuple[dict[str, Any], list[str]]:
    import pulumi.runtime
    return pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env()


def stack_context(policy_config: Mapping[str, Any] | None = None) -> Context:
    """The Context under the engine: environment and SLOs from the stack's profile, config overrides."""
    config, secret_keys = _env_config()
    profile = profile_from_pulumi_config(config, os.environ.get("PULUMI_STACK", "stack"))
    policy_config = policy_config or {}
    environment = policy_config.get("environment") or (profile.environment if profile else "prod")
    return Context(
        environment=str(environment),
        slo_targets=slo_targets(profile) if profile else None,
        allowed_registries=tuple(policy_config.get("allowedRegistries") or ()),
        clear_text_config=clear_text_values(config, secret_keys),
        secrets_marked=False,
    )


def _stack_environment() -> str | None:
    try:
        config, _ = _env_config()
    except Exception:
        config = {}
    profile = profile_from_pulumi_config(config)
    return profile.environment if profile else None


def pack_enforcement() -> EnforcementLevel:
    """The pack's default level: from the stack's environment when the engine passes its config,
    mandatory when it does not (a missing profile must never relax prod). The
    `--policy-pack-config` files in policies/config/ set it explicitly per environment."""
    return to_pulumi_level(enforcement_for(_stack_environment()))


def policy_enforcement(spec: PolicySpec) -> EnforcementLevel | None:
    """A policy's own level when it is lower than the pack's in this environment, else None (the pack's)."""
    if spec.mandatory_in is None:
        return None
    environment = _stack_environment()
    pack = enforcement_for(environment)
    own = spec.level_in(environment, pack)
    return None if own is pack else to_pulumi_level(own)


def to_pulumi_level(level: Level) -> EnforcementLevel:
    return EnforcementLevel(level.value)


def _message(spec: PolicySpec, subject: str, message: str) -> str:
    return f"{subject}: {message}\nfix: {spec.hint}"


def _schema(spec: PolicySpec) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={**_CONFIG_PROPERTIES, **_EXTRA_PROPERTIES.get(spec.name, {})})


def resource_policy(spec: PolicySpec) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        obj = to_object(args.resource_type, args.props)
        if obj is None:
            return
        if args.urn:
            _DECLARED[args.urn] = obj
        if spec.kinds is not None and obj["kind"] not in spec.kinds:
            return
        messages = spec.check(obj, stack_context(args.get_config()))
        if not messages:
            return
        reason = exemption(obj, spec.name)
        if reason:
            # Reported as "not applicable" with its reason, so the exemption shows in the
            # preview's policy summary instead of disappearing.
            args.not_applicable(f"exempted by {annotation(spec.name)}: {reason} "
                                f"(would report: {'; '.join(messages)})")
        for m in messages:
            report_violation(_message(spec, ref(obj), m), None)

    return ResourceValidationPolicy(name=spec.name, description=spec.description, validate=validate,
                                    config_schema=_schema(spec), remediation_steps=spec.hint,
                                    enforcement_level=policy_enforcement(spec))


def stack_policy(spec: PolicySpec) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        objects: list[Obj] = []
        urns: dict[int, str] = {}
        for r in args.resources:
            obj = _DECLARED.get(r.urn) or to_object(r.resource_type, r.props)
            if obj is not None:
                objects.append(obj)
                urns[id(obj)] = r.urn
        exempted: list[str] = []
        reported = 0
        for obj, m in spec.check(objects, stack_context(args.get_config())):
            subject = ref(obj) if obj is not None else "(stack)"
            reason = exemption(obj, spec.name)
            if reason:
                exempted.append(f"{subject}: {reason}")
                continue
            reported += 1
            report_violation(_message(spec, subject, m), urns.get(id(obj)) if obj is not None else None)
        if exempted and not reported:
            args.not_applicable("exempted: " + "; ".join(exempted))

    return StackValidationPolicy(name=spec.name, description=spec.description, validate=validate,
                                 config_schema=_schema(spec), remediation_steps=spec.hint)


def build_policies(specs: Sequence[PolicySpec] = POLICIES) -> list[Policy]:
    return [resource_policy(s) if s.scope == "resource" else stack_policy(s) for s in specs]
