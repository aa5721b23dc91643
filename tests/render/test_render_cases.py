"""Profile-driven renders (temporary stack files) and the `loadline render` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from render_helpers import write_stack

from loadline.profile import ProfileError
from loadline.render import MASK, render_stack
from loadline.render.validate import validate, validate_manifests
from tests.fixtures.renders import rendered

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    code = "from loadline.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=180)


def test_invalid_profile_raises_before_anything_renders(tmp_path):
    write_stack(tmp_path, "broken", "prod", {"api": {"hpa": {"minReplicas": 5, "maxReplicas": 2}}, "redis": {"shardz": 3}})
    with pytest.raises(ProfileError) as info:
        render_stack("broken", stacks_dir=tmp_path)
    message = str(info.value)
    assert "stack 'broken'" in message
    assert "redis.shardz: unknown key" in message
    assert "api.hpa" in message and "maxReplicas (2) must be >= minReplicas (5)" in message


def test_cli_exit_2_on_invalid_profile_with_no_traceback_and_no_output(tmp_path):
    write_stack(tmp_path, "typo", "dev", {"slo": {"latencyP95": 100}})
    out = tmp_path / "out"
    done = run_cli("render", "--stack", "typo", "--out", str(out), "--stacks-dir", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: invalid profile for stack 'typo': slo.latencyP95: unknown key "
                                   "(check the spelling; see docs/profile.md)")
    assert "Traceback" not in done.stdout + done.stderr
    assert not out.exists()


def test_cli_renders_and_validates_dev(tmp_path):
    done = run_cli("render", "--stack", "dev", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "valid: 41 manifests against Kubernetes 1.31 schemas (strict)" in done.stdout
    assert (tmp_path / "prometheus" / "prometheus.yml").exists()
    assert (tmp_path / "prometheus" / "rules_test.yml").exists()
    deployment = yaml.safe_load((tmp_path / "manifests/loadline-api/deployment-loadline-api.yaml").read_text())
    assert deployment["kind"] == "Deployment" and "replicas" not in deployment["spec"]


def test_strict_validation_names_object_and_field():
    result = rendered("dev")
    deployment = next(m for m in result.manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == "loadline-api")
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsRoot"] = True
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = {"bad": 1}
    problems = [str(p) for p in validate_manifests([deployment], "1.31")]
    assert problems, "an unknown field must fail strict validation"
    assert problems[0].startswith("Deployment/loadline-dev/loadline-api: spec.template.spec.containers.0.")


def test_stack_labels_reach_every_object(tmp_path):
    write_stack(tmp_path, "review-x", "dev", {"environment": "review", "namespace": "review-x"},
                {"loadline:labels": {"loadline.dev/owner": "alice", "loadline.dev/expires": "2026-12-01"}})
    result = render_stack("review-x", stacks_dir=tmp_path)
    assert result.manifests
    for m in result.manifests:
        assert m["metadata"]["labels"]["loadline.dev/owner"] == "alice", m["metadata"]["name"]
    assert {m["metadata"].get("namespace") for m in result.manifests} <= {"review-x", None}


def test_external_postgres_renders_only_a_secret_from_secure_config(tmp_path):
    write_stack(tmp_path, "ext", "prod",
                {"postgres": {"mode": "external", "storage": None, "tuning": None, "backup": None,
                              "resources": None, "externalUrlSecret": "databaseUrl"}},
                {"loadline:databaseUrl": {"secure": "AAABAJ8d+ciphertext"}})
    result = render_stack("ext", stacks_dir=tmp_path)
    pg = [m for m in result.manifests if m["metadata"]["labels"]["app.kubernetes.io/component"] == "postgres"]
    assert [m["kind"] for m in pg] == ["Secret"]
    assert pg[0]["stringData"] == {"url": MASK}
    assert not any(r.type_token.endswith("RandomPassword") and "postgres" in r.name for r in result.resources)
    assert validate(result) == []


def test_operator_mode_service_monitors_select_rendered_services(tmp_path):
    write_stack(tmp_path, "op", "prod", {"monitoring": {"mode": "operator", "operatorRelease": "kube-prom"}})
    result = render_stack("op", stacks_dir=tmp_path)
    assert result.prometheus_config is None and result.alert_rules is None
    monitors = [m for m in result.manifests if m["kind"] == "ServiceMonitor"]
    services = [m for m in result.manifests if m["kind"] == "Service"]
    assert len(monitors) == 3
    for sm in monitors:
        assert sm["metadata"]["labels"]["release"] == "kube-prom"
        wanted = sm["spec"]["selector"]["matchLabels"]
        port = sm["spec"]["endpoints"][0]["port"]
        hits = [s for s in services if wanted.items() <= s["metadata"]["labels"].items()
                and port in {p["name"] for p in s["spec"]["ports"]}]
        assert len(hits) == 1, f"{sm['metadata']['name']} must select exactly one Service with port {port}"
        job = hits[0]["metadata"]["labels"][sm["spec"]["jobLabel"]]
        assert job in {"loadline-api", "redis", "postgres"}
    rule = next(m for m in result.manifests if m["kind"] == "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prom"
    assert validate(result) == []


def test_bad_labels_config_is_refused_cleanly(tmp_path):
    from loadline.render import RenderError

    write_stack(tmp_path, "badlabels", "dev", extra_config={"loadline:labels": {"team": ["a", "b"]}})
    with pytest.raises(RenderError, match="loadline:labels: must be a map of string to string"):
        render_stack("badlabels", stacks_dir=tmp_path)
    done = run_cli("render", "--stack", "badlabels", "--out", str(tmp_path / "o"), "--stacks-dir", str(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_program_refuses_a_bad_profile_before_registering_anything(tmp_path):
    """The program's own check (what `pulumi up` runs), not only the render's pre-check."""
    import json

    bad = {"loadline:profile": json.dumps({**_profile("prod"), "namespace": "Not_A_DNS_Label"})}
    (tmp_path / "config.json").write_text(json.dumps({"values": bad, "secret_keys": []}))
    done = subprocess.run([sys.executable, "-m", "loadline.render.runner", "prod", str(tmp_path / "config.json"),
                           str(tmp_path / "out.json")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["registered"] == 0
    assert out["error"].startswith("invalid profile for stack 'prod': namespace: 'Not_A_DNS_Label' is not a DNS-1123")
    assert "Traceback" not in done.stderr


def _profile(stack: str) -> dict:
    from loadline.profile import read_stack_config

    return read_stack_config(stack)["loadline:profile"]
