"""Exemptions: a reason exempts and is reported; an empty one exempts nothing and is a violation."""

from policy_builders import allow_web, clean_stack, default_deny, deployment, hpa, pdb, service

from policies.guardrails import POLICIES, Context, Level, evaluate
from policies.guardrails.exemptions import annotation

CTX = Context(environment="prod")


def _stack_with(web):
    return [web, hpa(), pdb(), default_deny(), allow_web(), service()]


def _host_network(annotations=None):
    web = deployment(annotations=annotations)
    web["spec"]["template"]["spec"]["hostNetwork"] = True
    return web


def test_clean_stack_has_no_findings():
    assert evaluate(clean_stack(), CTX, POLICIES) == []


def test_exemption_with_reason_is_reported_not_counted():
    web = _host_network({annotation("no-host-namespaces"): "node-level network probe, reviewed"})
    findings = evaluate(_stack_with(web), CTX, POLICIES)
    assert len(findings) == 1
    f = findings[0]
    assert f.policy == "no-host-namespaces" and f.exempted
    assert f.exempt_reason == "node-level network probe, reviewed"
    assert f.resource == "Deployment shop/web"


def test_exemption_with_empty_reason_exempts_nothing_and_is_a_violation():
    web = _host_network({annotation("no-host-namespaces"): "  "})
    findings = evaluate(_stack_with(web), CTX, POLICIES)
    assert sorted(f.policy for f in findings) == ["exemption-reasons", "no-host-namespaces"]
    assert not any(f.exempted for f in findings)
    reason = next(f for f in findings if f.policy == "exemption-reasons")
    assert "has an empty reason" in reason.message and reason.level is Level.MANDATORY


def test_exemption_naming_an_unknown_policy():
    web = deployment(annotations={annotation("no-such-policy"): "because"})
    findings = evaluate(_stack_with(web), CTX, POLICIES)
    assert [(f.policy, "names no policy" in f.message) for f in findings] == [("exemption-reasons", True)]


def test_exemption_applies_to_stack_checks_on_the_named_resource():
    web = deployment(replicas=3, annotations={annotation("hpa-owns-replicas"): "migration window"})
    findings = evaluate(_stack_with(web), CTX, POLICIES)
    assert [(f.policy, f.exempted) for f in findings] == [("hpa-owns-replicas", True)]


def test_the_hygiene_policy_built_for_a_pack():
    # Built here rather than taken from POLICIES: its rules then run as this test calls them.
    from policies.guardrails.exemptions import POLICY_NAME, PREFIX, make_policy

    spec = make_policy({"known-a", "known-b"})
    assert (spec.name, spec.scope) == (POLICY_NAME, "resource") == ("exemption-reasons", "resource")
    assert spec.description == "Every exemption annotation names a policy of the pack and gives a reason."
    assert spec.hint == f'write the reason as the value: {PREFIX}<policy-name>: "why this resource may break the rule"'
    web = deployment(annotations={
        "other/annotation": "",  # not an exemption: skipped, and the rest still checked
        annotation("known-a"): "reviewed",
        annotation("known-b"): "  ",
        annotation("unknown-c"): "why",
    })
    assert spec.check(web, CTX) == [
        f"annotation {annotation('known-b')} has an empty reason, so it exempts nothing",
        f"annotation {annotation('unknown-c')} names no policy of this pack",
    ]
    assert spec.check(deployment(annotations={annotation("known-a"): 3}), CTX) == [
        f"annotation {annotation('known-a')} has an empty reason, so it exempts nothing"]


def test_exemption_reason_is_stripped_and_blank_means_none():
    from policies.guardrails.exemptions import exemption

    assert exemption(deployment(annotations={annotation("p"): "  why  "}), "p") == "why"
    assert exemption(deployment(annotations={annotation("p"): " "}), "p") is None
    assert exemption(deployment(annotations={annotation("p"): 1}), "p") is None
    assert exemption(deployment(annotations={annotation("q"): "why"}), "p") is None
    assert exemption(None, "p") is None
