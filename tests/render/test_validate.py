"""The render's validation: kubernetes-validate's own verdicts, found faster; promtool side by side."""

from __future__ import annotations

import copy

import pytest
from kubernetes_validate import utils as kv

from components.monitoring import config as monitoring_config
from loadline.render import RenderResult
from loadline.render import validate as validate_module
from loadline.render.validate import EarlyPromtool, object_id, validate, validate_manifests
from tests.fixtures.renders import rendered


def dev() -> RenderResult:
    """The session's render of dev; a copy, so a test may break it."""
    return rendered("dev")


def reference(manifest: dict, version: str) -> list[str]:
    """What kubernetes-validate's own strict `validate` says about one object."""
    try:
        kv.validate(manifest, version, strict=True)
    except kv.ValidationError as exc:
        return [f"{object_id(manifest)}: {'.'.join(str(p) for p in exc.path) or '(object)'}: {exc.message}"]
    except kv.SchemaNotFoundError:
        return ["no schema"]
    return []


def _break(manifest: dict, how: str) -> dict:
    broken = copy.deepcopy(manifest)
    if how == "unknown-field":
        broken.get("spec", broken)["unknownField"] = 1
    elif how == "wrong-type":
        broken["metadata"]["labels"] = ["not", "a", "map"]
    elif how == "missing-required":
        broken.pop("metadata")["name"]
    return broken


@pytest.mark.parametrize("how", ["valid", "unknown-field", "wrong-type", "missing-required"])
def test_same_verdict_as_kubernetes_validate_for_every_kind(how):
    manifests = [m for m in dev().manifests if m["apiVersion"] != "monitoring.coreos.com/v1"]
    kinds = {m["kind"] for m in manifests}
    assert {"Deployment", "StatefulSet", "Service", "ConfigMap", "HorizontalPodAutoscaler"} <= kinds
    for manifest in manifests:
        target = manifest if how == "valid" else _break(manifest, how)
        expected = reference(target, "1.31")
        assert [str(p) for p in validate_manifests([target], "1.31")] == expected, target["kind"]
        if how in ("valid", "unknown-field", "wrong-type"):
            assert bool(expected) == (how != "valid"), target["kind"]


def test_a_version_without_schemas_is_named():
    problems = validate_manifests(dev().manifests[:1], "1.99")
    assert [str(p) for p in problems] == ["kubernetesVersion: kubernetes-validate has no schemas for Kubernetes 1.99"]


BURN_TESTS = [f"prometheus/burn_rate_{w}_test.yml" for w in ("1d", "1h", "3d", "6h")]


def break_every_promtool_run(rules: dict) -> None:
    """An unparsable threshold alert (rules_test.yml reads it) and an unreadable burn-rate group
    (every burn-rate file reads it): each promtool run has something to report."""
    rules["groups"][0]["rules"][0]["expr"] = "sum(("
    next(g for g in rules["groups"] if g["name"] == "loadline-slo-burn")["interval"] = "not-a-duration"


def test_promtool_problems_come_back_from_every_run_in_order():
    result = dev()
    assert validate(result) == []
    break_every_promtool_run(result.alert_rules)
    problems = validate(result)
    assert [p.where for p in problems] == ["prometheus/prometheus.yml", "prometheus/rules.yml", *BURN_TESTS,
                                           "prometheus/rules_test.yml", "prometheus/rules.yml"]
    assert "promtool check config failed" in problems[0].message
    assert "promtool check rules failed" in problems[1].message
    # The query check reads the same rule file and names the rule.
    assert problems[-1].message.startswith("rule LoadlineApiLatencyP95High: not valid PromQL")


def test_schema_and_promtool_problems_together():
    result = dev()
    deployment = next(m for m in result.manifests if m["kind"] == "Deployment")
    deployment["spec"]["unknownField"] = 1
    break_every_promtool_run(result.alert_rules)
    wheres = [p.where for p in validate(result)]
    assert wheres[0] == object_id(deployment) and wheres[1:] == [
        "prometheus/prometheus.yml", "prometheus/rules.yml", *BURN_TESTS, "prometheus/rules_test.yml",
        "prometheus/rules.yml"]


def test_the_early_promtool_run_stands_only_for_the_files_it_checked(monkeypatch):
    result = dev()
    broken = copy.deepcopy(result.alert_rules)
    break_every_promtool_run(broken)
    # An early run on rules the render will not produce: its problems are not the render's.
    monkeypatch.setattr(monitoring_config, "alert_rules", lambda profile: copy.deepcopy(broken))
    early = EarlyPromtool(result.profile)
    assert validate(result, early) == []
    # The same rules rendered: the early run's problems are reported, in the usual order.
    result.alert_rules = copy.deepcopy(broken)
    problems = validate(result, early)
    assert [p.where for p in problems] == ["prometheus/prometheus.yml", "prometheus/rules.yml", *BURN_TESTS,
                                           "prometheus/rules_test.yml", "prometheus/rules.yml"]
    assert "promtool check rules failed" in problems[1].message


def test_an_early_run_of_the_profile_checks_what_render_writes():
    result = dev()
    early = EarlyPromtool(result.profile)
    written = {rel for rel in result.files() if rel.startswith("prometheus/")}
    assert set(early.files) == written - {"prometheus/prometheus.yml", "prometheus/alertmanager.yml"}
    assert validate(result, early) == []


STAND_IN = """#!/bin/sh
# promtool's stand-in: logs each call; with JOINED_FAILS set, a `test rules` over files of
# both rules_test.yml and a burn-rate file fails (no single file's run has both).
echo "$*" >> "{log}"
case "$JOINED_FAILS $*" in
  "1 test rules "*burn_rate_*rules_test.*) echo "the joined run broke"; exit 1 ;;
esac
exit 0
"""


@pytest.mark.parametrize("joined_fails", [False, True])
def test_the_test_files_run_in_one_promtool_and_a_failure_is_never_dropped(tmp_path, monkeypatch, joined_fails):
    log = tmp_path / "calls"
    stand_in = tmp_path / "promtool"
    stand_in.write_text(STAND_IN.format(log=log))
    stand_in.chmod(0o755)
    monkeypatch.setattr(validate_module, "PROMTOOL", str(stand_in))
    monkeypatch.setenv("JOINED_FAILS", "1" if joined_fails else "0")
    problems = validate_module.validate_prometheus(dev())
    tests = [call.split()[2:] for call in log.read_text().splitlines() if call.startswith("test rules")]
    parts = sorted(tests[0])
    assert "rules_test.LoadlineRedisDown.yml" in parts and "burn_rate_3d_test.yml" in parts
    if not joined_fails:
        assert problems == [] and len(tests) == 1
        return
    # Then each file once more, on its own: none fails alone, so the joined run's failure is reported.
    assert sorted(f for call in tests[1:] for f in call) == parts
    assert sorted(call[0].split(".")[0] for call in tests[1:]) == [
        "burn_rate_1d_test", "burn_rate_1h_test", "burn_rate_3d_test", "burn_rate_6h_test", "rules_test"]
    assert [p.where for p in problems] == ["prometheus/"]
    assert "the joined run broke" in problems[0].message
