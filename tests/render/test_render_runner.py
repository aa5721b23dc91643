"""A review stack renders the in-cluster Locust runner: strictly valid, clean under the pack, no exemption."""

from __future__ import annotations

import copy
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from render_helpers import write_stack

from components.locust_runner import ROLE_LABEL
from loadline.check import check_objects
from loadline.envs.config import generate_config, write_stack_file
from loadline.profile import STACKS_DIR, read_stack_config
from loadline.render import render_stack
from loadline.render.validate import validate
from policies.guardrails import Level
from policies.guardrails.context import clear_text_values, profile_context
from policies.guardrails.exemptions import PREFIX

CREATED = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def review(tmp_path_factory):
    stacks = tmp_path_factory.mktemp("review") / "stacks"
    shutil.copytree(STACKS_DIR, stacks)
    write_stack_file(generate_config("pr-9", "dev", owner="jane@example.com", created=CREATED,
                                     expires=CREATED + timedelta(hours=24), stacks_dir=stacks), stacks)
    return render_stack("pr-9", stacks_dir=stacks), stacks


def runner_objects(result):
    return [m for m in result.manifests if m["metadata"]["labels"].get("app.kubernetes.io/component") == "loadtest"]


def check(result, stacks, stack, manifests=None):
    ctx = profile_context(result.profile, clear_text_config=clear_text_values(read_stack_config(stack, stacks)),
                          alert_rule_files=(result.alert_rules,), prometheus_configs=(result.prometheus_config,))
    return check_objects(manifests if manifests is not None else result.manifests, ctx, source=stack)


def about_runner(findings):
    return [f for f in findings if "loadline-loadtest" in f.resource]


def test_review_stack_with_the_runner_is_strictly_valid(review):
    result, _ = review
    assert sorted(m["kind"] for m in runner_objects(result)) == [
        "ConfigMap", "Job", "Job", "NetworkPolicy", "Service", "ServiceAccount"]
    problems = validate(result)
    assert problems == [], "\n".join(map(str, problems))


def test_the_runner_targets_the_api_by_dns_and_starts_the_profiles_workers(review):
    result, _ = review
    jobs = {m["metadata"]["labels"][ROLE_LABEL]: m for m in runner_objects(result) if m["kind"] == "Job"}
    master = jobs["master"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert master[master.index("--host") + 1] == "http://loadline-api.review-pr-9.svc.cluster.local:80"
    workers = result.profile.load.runner.workers
    assert jobs["worker"]["spec"]["parallelism"] == workers
    assert master[master.index("--expect-workers") + 1] == str(workers)


def test_the_runner_passes_the_pack_without_any_exemption(review):
    result, stacks = review
    runner = runner_objects(result)
    for m in runner:
        assert not any(k.startswith(PREFIX) for k in m["metadata"].get("annotations", {})), m["metadata"]["name"]
    outcome = check(result, stacks, "pr-9")
    assert outcome.exit_code == 0
    # Digests are only advised outside prod, as for every other image of the stack.
    assert {f.policy for f in about_runner(outcome.violations)} == {"image-digests"}
    assert about_runner(outcome.exempted) == []


def test_the_token_rule_applies_to_the_runner_so_it_needs_no_exemption(review):
    # The runner never calls the Kubernetes API: the rule it would need an exemption from
    # (service-account-token) really applies, and it is met, not waived.
    result, stacks = review
    manifests = copy.deepcopy(result.manifests)
    for m in manifests:
        if m["kind"] == "Job" and "loadtest" in m["metadata"]["name"]:
            m["spec"]["template"]["spec"]["automountServiceAccountToken"] = True
    outcome = check(result, stacks, "pr-9", manifests)
    tokens = [f for f in about_runner(outcome.violations) if f.policy == "service-account-token"]
    assert len(tokens) == 2 and all(f.level is Level.ADVISORY for f in tokens)


@pytest.mark.parametrize("flag, expected", [(None, 0), (True, 6)])
def test_a_permanent_stack_renders_the_runner_only_behind_its_switch(tmp_path, flag, expected):
    shutil.copytree(STACKS_DIR, tmp_path / "stacks")
    patch = {} if flag is None else {"load": {"runner": {"inCluster": flag, "workers": 3}}}
    write_stack(tmp_path / "stacks", "dev", "dev", patch)
    result = render_stack("dev", stacks_dir=tmp_path / "stacks")
    assert len(runner_objects(result)) == expected
    if expected:
        assert validate(result) == []
        outcome = check(result, tmp_path / "stacks", "dev")
        assert outcome.exit_code == 0
        jobs = [m for m in runner_objects(result) if m["kind"] == "Job"]
        assert sorted(j["spec"]["parallelism"] for j in jobs) == [1, 3]
