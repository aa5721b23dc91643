"""`loadline check --manifests`: exit 1 naming each violation, 0 when clean, 2 when unreadable."""

import json

import pytest
import yaml
from policy_builders import clean_stack, container, deployment, secret
from typer.testing import CliRunner

from loadline.cli import app
from policies.guardrails.exemptions import annotation

runner = CliRunner()


def _write(directory, name, docs):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return directory


def _check(*args):
    return runner.invoke(app, ["check", *map(str, args)])


@pytest.fixture
def violating(tmp_path):
    web = deployment(replicas=3, spread=False, containers=[container(
        image="nginx", env=[{"name": "DB_PASSWORD", "value": "hunter2"}])])
    web["spec"]["template"]["spec"]["hostNetwork"] = True
    return _write(tmp_path / "bad", "app.yaml", [web, secret(token="abc")])


def test_violating_directory_exits_1_and_names_each_violation(violating):
    result = _check("--manifests", violating)
    assert result.exit_code == 1, result.output
    out = result.output
    for resource, policy in [
        ("Deployment shop/web", "images-pinned"), ("Deployment shop/web", "no-host-namespaces"),
        ("Deployment shop/web", "env-secret-refs"), ("Deployment shop/web", "pdb-for-replicated"),
        ("Deployment shop/web", "prod-pod-spread"), ("Namespace shop", "network-policy-default-deny"),
        ("Secret shop/creds", "secret-not-clear-text"), ("Deployment shop/web", "image-digests"),
    ]:
        assert resource in out and f"MANDATORY  {policy}:" in out
    assert "fix: " in out
    assert out.strip().splitlines()[-1].startswith("summary: FAIL: 9 mandatory violations")


def test_violating_directory_advisory_exits_0(violating):
    result = _check("--manifests", violating, "--enforcement", "advisory")
    assert result.exit_code == 0 and "advisory   images-pinned" in result.output
    assert "summary: PASS: 0 mandatory violations, 9 advisory violations" in result.output


def test_json_output(violating):
    result = _check("--manifests", violating, "--json")
    data = json.loads(result.output)
    assert result.exit_code == 1 and data["exitCode"] == 1 and data["counts"]["mandatory"] == 9
    assert {"policy", "resource", "message", "hint", "level", "exempted", "exemptReason"} <= set(data["findings"][0])


def test_clean_directory_exits_0(tmp_path):
    result = _check("--manifests", _write(tmp_path / "ok", "all.yaml", clean_stack()))
    assert result.exit_code == 0, result.output
    assert "summary: PASS: 0 mandatory violations, 0 advisory violations, 0 exempted across 6 objects" in result.output


def test_exemption_is_listed_with_its_reason(tmp_path):
    objs = clean_stack()
    objs[0] = deployment(containers=[container(image="nginx:latest")],
                         annotations={annotation("images-pinned"): "mirrored and scanned upstream",
                                      annotation("image-digests"): "mirrored and scanned upstream"})
    result = _check("--manifests", _write(tmp_path / "ex", "all.yaml", objs))
    assert result.exit_code == 0
    assert "EXEMPTED   images-pinned" in result.output and "reason: mirrored and scanned upstream" in result.output


def test_profile_supplies_environment_and_slo_targets(tmp_path):
    result = _check("--manifests", _write(tmp_path / "ok", "all.yaml", clean_stack()), "--profile", "prod")
    assert result.exit_code == 1
    assert "slo-alert-rules: no alerting rule carries the label slo: p95_ms" in result.output


@pytest.mark.parametrize("content, reason", [
    ("kind: [unclosed\n", "not valid YAML at line"),
    ("apiVersion: v1\nmetadata: {name: a}\n", "document 1 has no kind"),
    ("kind: ConfigMap\n---\n- a\n- b\n", "document 1 (ConfigMap) has no metadata.name"),
])
def test_unreadable_files_exit_2_naming_file_and_reason(tmp_path, content, reason):
    (tmp_path / "broken.yaml").write_text(content)
    result = _check("--manifests", tmp_path)
    assert result.exit_code == 2
    assert "broken.yaml" in result.stderr and reason in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_missing_or_empty_directory_exits_2(tmp_path):
    missing = _check("--manifests", tmp_path / "nope")
    assert missing.exit_code == 2 and "no such directory" in missing.stderr
    empty = _check("--manifests", tmp_path)
    assert empty.exit_code == 2 and "holds no .yaml" in empty.stderr


def test_exactly_one_source(tmp_path):
    assert _check().exit_code == 2
    both = _check("--stack", "prod", "--manifests", tmp_path)
    assert both.exit_code == 2 and "exactly one" in both.stderr


def test_unknown_stack_exits_2():
    result = _check("--stack", "no-such-stack")
    assert result.exit_code == 2 and "no stack file" in result.stderr
