"""The review template, laid over dev, renders offline and passes the policy check."""

import shutil
from datetime import UTC, datetime, timedelta

import pytest

from loadline.check import check_objects
from loadline.envs.config import generate_config, write_stack_file
from loadline.profile import STACKS_DIR, read_stack_config
from loadline.render import render_stack
from policies.guardrails import Level, enforcement_for
from policies.guardrails.context import clear_text_values, profile_context

CREATED = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    stacks = tmp_path_factory.mktemp("review") / "stacks"
    shutil.copytree(STACKS_DIR, stacks)
    review = generate_config("pr-7", "dev", owner="jane@example.com", created=CREATED,
                             expires=CREATED + timedelta(hours=24), stacks_dir=stacks)
    write_stack_file(review, stacks)
    return render_stack("pr-7", stacks_dir=stacks), stacks


def test_every_object_is_in_the_review_namespace_with_the_review_labels(rendered):
    result, _ = rendered
    assert len(result.manifests) > 10
    for m in result.manifests:
        meta = m["metadata"]
        if m["kind"] == "Namespace":
            assert meta["name"] == "review-pr-7"
        else:
            assert meta.get("namespace") == "review-pr-7", (m["kind"], meta["name"])
        labels = meta.get("labels", {})
        assert labels.get("loadline.dev/owner") == "jane-example.com", (m["kind"], meta["name"])
        assert labels.get("loadline.dev/created") == "20261124T140000Z"
        assert labels.get("loadline.dev/expires") == "20261125T140000Z"


def test_policy_check_in_advisory_mode_passes(rendered):
    result, stacks = rendered
    assert enforcement_for(result.profile.environment) is Level.ADVISORY
    extra = {}
    if result.alert_rules is not None:
        extra["alert_rule_files"] = (result.alert_rules,)
    if result.prometheus_config is not None:
        extra["prometheus_configs"] = (result.prometheus_config,)
    ctx = profile_context(result.profile,
                          clear_text_config=clear_text_values(read_stack_config("pr-7", stacks)),
                          **extra)
    check = check_objects(result.manifests, ctx, source="stack pr-7")
    assert check.level is Level.ADVISORY
    assert check.objects == len(result.manifests)
    assert check.exit_code == 0
    # A review stack pins images by tag; digests are only advised outside prod.
    assert {f.policy for f in check.violations} <= {"image-digests"}
    assert all(f.level is Level.ADVISORY for f in check.violations)
    assert [f.policy for f in check.exempted] == ["service-account-token"]
