"""The pulumi_policy adapters, driven the way the engine drives them, without a policy server.

Props go through the SDK's own `deserialize_properties` + `unknown_checking_proxy`, exactly
as `Analyze`/`AnalyzeStack` prepare them; stack config arrives in PULUMI_CONFIG as the
engine sets it for the analyzer.
"""

import json
import sys

import pytest
from policy_builders import container, deployment, hpa, secret
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from loadline.profile import read_stack_config
from policies.guardrails import BY_NAME, POLICIES
from policies.guardrails.exemptions import annotation
from policies.guardrails.pulumi_adapters import build_policies, pack_enforcement, resource_policy, stack_policy
from policies.guardrails.secrets import PULUMI_SECRET_SIG, PULUMI_SIG_KEY

OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _engine_props(obj):
    return unknown_checking_proxy(deserialize_properties(json.loads(json.dumps(obj))))


def _validate(policy_name, type_token, obj, config=None):
    policy = resource_policy(BY_NAME[policy_name])
    reports = []
    args = ResourceValidationArgs(type_token, _engine_props(obj), f"urn:pulumi:s::p::{type_token}::x", "x",
                                  OPTS, None, config)
    policy.validate(args, lambda msg, urn=None: reports.append(msg))
    return reports


@pytest.fixture
def stack_config(monkeypatch):
    def set_config(stack, extra=None, secret_keys=()):
        profile = read_stack_config(stack)["loadline:profile"]
        monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"loadline:profile": json.dumps(profile), **(extra or {})}))
        monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(list(secret_keys)))
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    return set_config


def test_every_policy_registers_with_its_pulumi_type_and_no_server_starts():
    built = build_policies()
    assert [p.name for p in built] == [s.name for s in POLICIES]
    for policy, spec in zip(built, POLICIES, strict=True):
        expected = ResourceValidationPolicy if spec.scope == "resource" else StackValidationPolicy
        assert isinstance(policy, expected) and policy.description and policy.remediation_steps
    assert "policies.__main__" not in sys.modules


def test_resource_violation_reaches_report_violation(stack_config):
    stack_config("prod")
    bad = deployment(containers=[container(image="nginx:latest")])
    reports = _validate("images-pinned", "kubernetes:apps/v1:Deployment", bad)
    assert len(reports) == 1 and "Deployment shop/web" in reports[0] and "floating tag latest" in reports[0]
    assert _validate("images-pinned", "kubernetes:apps/v1:Deployment", deployment()) == []


def test_other_kinds_and_providers_are_ignored(stack_config):
    bad = deployment(containers=[container(image="nginx:latest")])
    assert _validate("images-pinned", "random:index/randomPassword:RandomPassword", bad) == []
    assert _validate("images-pinned", "kubernetes:core/v1:Service", bad) == []


def test_unknown_values_during_preview_do_not_abort(stack_config):
    pending = deployment(containers=[container(image=UNKNOWN_STRING_VALUE)])
    assert _validate("images-pinned", "kubernetes:apps/v1:Deployment", pending) == []


def test_exempted_resource_is_reported_as_not_applicable_with_its_reason(stack_config):
    bad = deployment(containers=[container(image="nginx:latest")],
                     annotations={annotation("images-pinned"): "mirror pins by digest"})
    with pytest.raises(_NotApplicableError) as raised:
        _validate("images-pinned", "kubernetes:apps/v1:Deployment", bad)
    assert "mirror pins by digest" in raised.value.reason and "floating tag latest" in raised.value.reason


def test_environment_comes_from_the_stack_profile_or_policy_config(stack_config):
    low = hpa(min_replicas=1)
    stack_config("prod")
    assert _validate("prod-hpa-min-replicas", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", low)
    stack_config("dev")
    assert _validate("prod-hpa-min-replicas", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", low) == []
    assert _validate("prod-hpa-min-replicas", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", low,
                     config={"environment": "prod"})


def test_secret_from_clear_text_config_is_caught_under_the_sdk(stack_config):
    stack_config("prod", {"app:dbPassword": "hunter2-plain", "app:apiToken": "token-from-secure-config"},
                 secret_keys=["app:apiToken"])
    marked = {PULUMI_SIG_KEY: PULUMI_SECRET_SIG, "value": "hunter2-plain"}
    reports = _validate("secret-not-clear-text", "kubernetes:core/v1:Secret", secret(password=marked))
    assert len(reports) == 1 and "'app:dbPassword'" in reports[0]
    assert _validate("secret-not-clear-text", "kubernetes:core/v1:Secret",
                     secret(password="token-from-secure-config")) == []
    assert _validate("secret-not-clear-text", "kubernetes:core/v1:Secret", secret(password="generated")) == []


def test_stack_policy_reports_against_the_resource_urn(stack_config):
    stack_config("prod")
    resources = [
        PolicyResource("kubernetes:apps/v1:Deployment", _engine_props(deployment(replicas=3)), "urn:dep", "web",
                       OPTS, None, None, [], {}),
        PolicyResource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", _engine_props(hpa()), "urn:hpa", "web",
                       OPTS, None, None, [], {}),
    ]
    reports = []
    stack_policy(BY_NAME["hpa-owns-replicas"]).validate(
        StackValidationArgs(resources, {}), lambda msg, urn=None: reports.append((urn, msg)))
    assert len(reports) == 1 and reports[0][0] == "urn:dep" and "spec.replicas" in reports[0][1]


def test_pack_default_enforcement_follows_the_stack(stack_config):
    assert pack_enforcement() is EnforcementLevel.MANDATORY  # no config: never relax
    stack_config("dev")
    assert pack_enforcement() is EnforcementLevel.ADVISORY
    stack_config("staging")
    assert pack_enforcement() is EnforcementLevel.MANDATORY


def test_stack_policy_judges_declared_inputs_not_live_outputs(stack_config):
    # After deployment, the live Deployment carries the replicas its HPA set; the program did not.
    stack_config("prod")
    declared = deployment()
    args = ResourceValidationArgs("kubernetes:apps/v1:Deployment", _engine_props(declared), "urn:live-dep", "web",
                                  OPTS, None, None)
    resource_policy(BY_NAME["images-pinned"]).validate(args, lambda msg, urn=None: None)
    live = deployment(replicas=4)
    resources = [
        PolicyResource("kubernetes:apps/v1:Deployment", _engine_props(live), "urn:live-dep", "web",
                       OPTS, None, None, [], {}),
        PolicyResource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", _engine_props(hpa()), "urn:live-hpa",
                       "web", OPTS, None, None, [], {}),
    ]
    reports = []
    stack_policy(BY_NAME["hpa-owns-replicas"]).validate(
        StackValidationArgs(resources, {}), lambda msg, urn=None: reports.append(msg))
    assert reports == []
