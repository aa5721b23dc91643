import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from loadline.cli import app
from loadline.envs.registry import EnvRecord, Registry

LOADLINE = str(Path(sys.executable).with_name("loadline"))
runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["env", *args])


def calls(home):
    log = home / "pulumi.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def record(name, expires_in=timedelta(hours=1), finished=True):
    now = datetime.now(UTC)
    r = EnvRecord(name=name, from_stack="dev", owner="jane", created=now - timedelta(hours=2),
                  expires=now + expires_in, backend="file:///nowhere", finished=finished)
    Registry().save(r)
    return r


def test_help_lists_the_commands():
    result = subprocess.run([LOADLINE, "env", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("up", "down", "list", "gc"):
        assert f"│ {command} " in result.stdout


def test_up_without_pulumi_cli_exits_2_and_writes_nothing(home):
    env = dict(os.environ)  # the fixture's PATH (no pulumi) and state dir
    result = subprocess.run([LOADLINE, "env", "up", "pr-1", "--from", "dev"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "error: the pulumi CLI is not installed" in result.stderr
    assert "loadline env up pr-1 --from dev" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (home / "state" / "envs").exists()


def test_missing_kube_context_is_named_after_the_cli(fake_cli, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(fake_cli / "missing"))
    result = run("up", "pr-1", "--from", "dev")
    assert result.exit_code == 2
    assert "no usable Kubernetes context" in result.output
    assert "kind create cluster" in result.output
    assert Registry().get("pr-1") is None
    assert not (fake_cli / "stacks" / "Pulumi.pr-1.yaml").exists()


@pytest.mark.parametrize("name", ["PR-1", "pr_1", "x" * 57])
def test_bad_name_exits_2(home, name):
    # In-process; test_up_without_pulumi_cli_exits_2_and_writes_nothing runs the real command.
    result = run("up", name)
    assert result.exit_code == 2
    assert f"error: invalid env name '{name}'" in result.stderr
    assert isinstance(result.exception, SystemExit), result.exception


def test_bad_ttl_exits_2(home):
    result = run("up", "pr-1", "--ttl", "3w")
    assert result.exit_code == 2
    assert "invalid --ttl '3w'" in result.output


def test_bad_from_stack_exits_2(home):
    result = run("up", "pr-1", "--from", "nope")
    assert result.exit_code == 2
    assert "no stack file Pulumi.nope.yaml" in result.output


def test_second_up_is_refused_without_update(home):
    record("pr-1")
    result = run("up", "pr-1", "--from", "dev")
    assert result.exit_code == 2
    assert "env 'pr-1' already exists (ready" in result.output
    assert "--update" in result.output and "loadline env down pr-1" in result.output


def test_permanent_stack_name_is_refused(home):
    for command in (["up", "prod", "--from", "dev"], ["down", "prod"]):
        result = run(*command)
        assert result.exit_code == 2
        assert "'prod' is a permanent stack" in result.output
    assert (home / "stacks" / "Pulumi.prod.yaml").exists()


def test_down_of_unknown_env(home):
    result = run("down", "pr-9")
    assert result.exit_code == 2
    assert "no review env 'pr-9'" in result.output


def test_list_shows_age_expiry_state_and_verdict(home):
    assert "no review envs" in run("list").output
    record("pr-1", expires_in=timedelta(hours=5))
    r = record("pr-2", expires_in=timedelta(hours=-1), finished=False)
    r.last_verdict = "missed"
    r.verdict_at = datetime.now(UTC) - timedelta(minutes=30)
    Registry().save(r)
    result = runner.invoke(app, ["env", "list"], terminal_width=200)
    assert result.exit_code == 0
    line1 = next(line for line in result.output.splitlines() if " pr-1 " in line)
    line2 = next(line for line in result.output.splitlines() if " pr-2 " in line)
    assert "2h" in line1 and "in 4h59m" in line1 and "ready" in line1
    assert "1h ago" in line2 or "59m ago" in line2
    assert "interrupted" in line2 and "missed (30m ago)" in line2
    data = json.loads(run("list", "--json").output)
    assert [d["name"] for d in data] == ["pr-1", "pr-2"]


def test_gc_dry_run_lists_expired_and_keeps_them(home):
    record("old", expires_in=timedelta(minutes=-5))
    record("new", expires_in=timedelta(hours=5))
    result = run("gc", "--dry-run")
    assert result.exit_code == 0
    assert "gc: old expired" in result.output and "new" not in result.output
    assert "1 env(s) would be destroyed" in result.output
    assert Registry().get("old") is not None


def test_gc_without_cli_exits_2_and_keeps_records(home):
    record("old", expires_in=timedelta(minutes=-5))
    result = run("gc")
    assert result.exit_code == 2
    assert "pulumi CLI is not installed" in result.output
    assert Registry().get("old") is not None


def test_up_and_down_through_the_automation_api(deployable):
    result = run("up", "pr-1", "--from", "dev", "--no-gate", "--owner", "jane@example.com")
    assert result.exit_code == 0, result.output
    assert "Resources: + 42 created" in result.output  # engine output is streamed
    rec = Registry().get("pr-1")
    assert rec.finished and rec.api_url == "http://loadline-api.review-pr-1.svc.cluster.local"
    assert rec.owner == "jane-example.com"
    assert rec.expires - rec.created == timedelta(hours=24)
    assert rec.backend == f"file://{deployable / 'state' / 'state'}"

    log = calls(deployable)
    commands = [c["argv"][:2] for c in log if c["argv"][0] != "version"]
    assert ["stack", "select"] in commands and ["stack", "init"] in commands and ["up", "--yes"] in commands
    init = next(c for c in log if c["argv"][:2] == ["stack", "init"])
    assert init["argv"][2:] == ["pr-1", "--secrets-provider", "passphrase"]
    up = next(c for c in log if c["argv"][0] == "up")
    pack = up["argv"][up["argv"].index("--policy-pack") + 1]
    pack_config = up["argv"][up["argv"].index("--policy-pack-config") + 1]
    assert (Path(pack) / "PulumiPolicy.yaml").exists()
    assert pack_config == str(Path(pack) / "config" / "review.json")
    assert up["cwd"] == str(deployable / "state" / "workspaces" / "pr-1")
    assert up["env"]["PULUMI_BACKEND_URL"] == rec.backend
    passphrase = Path(up["env"]["PULUMI_CONFIG_PASSPHRASE_FILE"])
    assert passphrase == deployable / "state" / "passphrase"
    assert oct(passphrase.stat().st_mode & 0o777) == "0o600"

    again = run("up", "pr-1", "--from", "dev", "--no-gate")
    assert again.exit_code == 2 and "already exists" in again.output
    update = run("up", "pr-1", "--from", "dev", "--no-gate", "--update", "--ttl", "2h", "--no-policy")
    assert update.exit_code == 0, update.output
    stack_doc = yaml.safe_load((deployable / "stacks" / "Pulumi.pr-1.yaml").read_text())
    assert stack_doc["encryptionsalt"] == "v1:fake-salt"  # written at stack init, kept on update
    last_up = [c for c in calls(deployable) if c["argv"][0] == "up"][-1]
    assert "--policy-pack" not in last_up["argv"]
    rec2 = Registry().get("pr-1")
    assert rec2.created == rec.created and rec2.owner == rec.owner
    assert timedelta(hours=1, minutes=59) < rec2.expires - datetime.now(UTC) <= timedelta(hours=2)

    down = run("down", "pr-1")
    assert down.exit_code == 0, down.output
    assert "pr-1: destroyed and removed" in down.output
    assert Registry().get("pr-1") is None
    assert not (deployable / "stacks" / "Pulumi.pr-1.yaml").exists()
    assert not (deployable / "state" / "workspaces" / "pr-1").exists()
    assert [c["argv"][:3] for c in calls(deployable)][-1] == ["stack", "rm", "--yes"]


def test_interrupted_up_can_be_cleaned_with_down(deployable, monkeypatch):
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "up")
    result = run("up", "pr-3", "--from", "dev", "--no-gate")
    assert result.exit_code == 2
    assert "up pr-3: pulumi failed" in result.output
    assert "timed out waiting for Deployment" in result.output
    assert "loadline env down pr-3" in result.output
    assert "Traceback" not in result.output
    assert Registry().get("pr-3").state(datetime.now(UTC)) == "interrupted"
    monkeypatch.delenv("FAKE_PULUMI_FAIL")
    down = run("down", "pr-3")
    assert down.exit_code == 0, down.output
    assert Registry().get("pr-3") is None


def test_gate_by_port_forward_without_kubectl_is_refused_before_anything_runs(fake_cli, monkeypatch):
    monkeypatch.setenv("PATH", str(fake_cli / "bin"))  # pulumi only
    assert shutil.which("kubectl") is None
    result = run("up", "pr-1", "--from", "dev", "--via", "port-forward")
    assert result.exit_code == 2
    assert "kubectl is not installed" in result.output and "--gate-host" in result.output
    assert Registry().get("pr-1") is None
    assert [c["argv"][0] for c in calls(fake_cli)] == []


def test_down_when_the_stack_never_reached_the_backend(fake_cli):
    record("pr-4", finished=False)
    result = run("down", "pr-4")
    assert result.exit_code == 0, result.output
    assert "no stack in the backend" in result.output
    assert Registry().get("pr-4") is None


def test_gc_destroys_only_expired(deployable):
    assert run("up", "keep", "--no-gate").exit_code == 0
    assert run("up", "drop", "--no-gate").exit_code == 0
    r = Registry().get("drop")
    r.expires = datetime.now(UTC) - timedelta(minutes=1)
    Registry().save(r)
    result = run("gc")
    assert result.exit_code == 0, result.output
    assert "drop: destroyed and removed" in result.output
    assert [r.name for r in Registry().all()] == ["keep"]
    destroyed = [c["argv"] for c in calls(deployable) if c["argv"][0] == "destroy"]
    assert len(destroyed) == 1 and destroyed[0][-2:] == ["--stack", "drop"]


def test_gc_goes_on_past_one_failed_destroy(deployable, monkeypatch):
    for name in ("stuck", "gone", "keep"):
        assert run("up", name, "--no-gate").exit_code == 0
    for name, minutes in (("stuck", 10), ("gone", 5)):
        r = Registry().get(name)
        r.expires = datetime.now(UTC) - timedelta(minutes=minutes)
        Registry().save(r)
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "destroy:stuck")
    result = run("gc")
    assert result.exit_code == 2, result.output
    assert "gc: 1 of 2 expired env(s) not removed: stuck" in result.output
    assert "gone: destroyed and removed" in result.output
    assert sorted(r.name for r in Registry().all()) == ["keep", "stuck"]
    assert (deployable / "stacks" / "Pulumi.stuck.yaml").exists()
    assert not (deployable / "stacks" / "Pulumi.gone.yaml").exists()
    destroyed = [c["argv"][-1] for c in calls(deployable) if c["argv"][0] == "destroy"]
    assert destroyed == ["stuck", "gone"]  # oldest expiry first, and the failure did not stop gc


def test_failed_destroy_keeps_the_record(deployable, monkeypatch):
    assert run("up", "pr-5", "--no-gate").exit_code == 0
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "destroy")
    result = run("down", "pr-5")
    assert result.exit_code == 2
    assert "down pr-5: pulumi failed" in result.output
    assert Registry().get("pr-5") is not None
    assert (deployable / "stacks" / "Pulumi.pr-5.yaml").exists()
