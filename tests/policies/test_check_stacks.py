"""Every shipped stack passes the guardrails in mandatory mode, through the real offline render."""

import copy
from datetime import UTC

import pytest
from typer.testing import CliRunner

from loadline.check import check_manifests, check_objects
from loadline.cli import app
from loadline.envs.config import is_generated
from loadline.profile import available_stacks, load_profile, stack_file
from policies.guardrails import Level
from policies.guardrails.context import profile_context
from tests.fixtures.renders import rendered

# Every stack file in stacks/ except the review stacks `env up` writes: a stack added later is
# checked without anyone remembering to list it.
SHIPPED = [s for s in available_stacks() if not is_generated(stack_file(s))]


def _render(stack):
    return rendered(stack)


def _check(stack, manifests):
    r = _render(stack)
    ctx = profile_context(r.profile, alert_rule_files=(r.alert_rules,) if r.alert_rules else (),
                          prometheus_configs=(r.prometheus_config,) if r.prometheus_config else ())
    return check_objects(manifests, ctx, source=f"stack {stack}", level=Level.MANDATORY)


def test_shipped_stacks_are_the_ones_checked():
    assert {"dev", "staging", "prod", "local"} <= set(SHIPPED)


@pytest.mark.parametrize("stack", SHIPPED)
def test_shipped_stack_passes_in_mandatory_mode(stack):
    result = _check(stack, _render(stack).manifests)
    assert [(f.resource, f.policy, f.message) for f in result.mandatory] == []
    assert result.objects > 20


def test_checks_are_live_on_rendered_output():
    # Break the rendered prod stack the way the field notes warn about: the HPA-managed
    # Deployment regains spec.replicas and the API loses its PDB.
    manifests = copy.deepcopy(_render("prod").manifests)
    api = next(m for m in manifests if m["kind"] == "Deployment" and m["spec"].get("replicas") is None)
    api["spec"]["replicas"] = 3
    manifests = [m for m in manifests if not (m["kind"] == "PodDisruptionBudget"
                                              and m["metadata"]["name"] == api["metadata"]["name"])]
    found = {(f.policy, f.resource) for f in _check("prod", manifests).mandatory}
    ref = f"Deployment {api['metadata']['namespace']}/{api['metadata']['name']}"
    assert found == {("hpa-owns-replicas", ref), ("pdb-for-replicated", ref)}


def test_rendered_files_pass_as_a_manifest_directory(tmp_path):
    _render("prod").write(tmp_path)
    result = check_manifests(tmp_path, profile=load_profile("prod"))
    assert result.exit_code == 0, [(f.resource, f.policy, f.message) for f in result.mandatory]
    assert not result.notes  # the profile gave environment and SLO targets


def test_cli_check_stack_prod_exits_0():
    result = CliRunner().invoke(app, ["check", "--stack", "prod"])
    assert result.exit_code == 0, result.output
    assert "environment prod, enforcement mandatory" in result.output
    assert "summary: PASS: 0 mandatory violations" in result.output


@pytest.mark.parametrize("from_stack", ["dev", "staging"])
def test_review_stack_from_the_template_passes_in_mandatory_mode(tmp_path, from_stack):
    from datetime import datetime, timedelta

    from loadline.check import check_stack
    from loadline.envs.config import generate_config, write_stack_file
    from loadline.profile import STACKS_DIR

    for f in STACKS_DIR.glob("Pulumi.*.yaml"):
        (tmp_path / f.name).write_text(f.read_text())
    now = datetime(2026, 1, 1, tzinfo=UTC)
    review = generate_config("pr-42", from_stack, owner="ci", created=now, expires=now + timedelta(hours=8),
                             stacks_dir=tmp_path)
    write_stack_file(review, stacks_dir=tmp_path)
    result = check_stack("pr-42", level=Level.MANDATORY, stacks_dir=tmp_path)
    assert result.environment == "review"
    assert [(f.resource, f.policy, f.message) for f in result.mandatory] == []
