from pathlib import Path

import yaml
from pulumi import automation as auto

from loadline.envs.driver import DriverSettings, project_settings, translate, workspace_dir
from loadline.profile import REPO_ROOT, STACKS_DIR


def test_backend_precedence(tmp_path):
    env = {"PULUMI_BACKEND_URL": "s3://bucket/state"}
    assert DriverSettings.resolve("file:///x", None, root=tmp_path, environ=env).backend_url == "file:///x"
    assert DriverSettings.resolve(None, None, root=tmp_path, environ=env).backend_url == "s3://bucket/state"
    assert DriverSettings.resolve(None, None, root=tmp_path, environ={}).backend_url == f"file://{tmp_path}/state"


def test_generated_passphrase_only_when_none_is_given(tmp_path):
    s = DriverSettings.resolve(None, None, root=tmp_path, environ={})
    env = s.env_vars()
    path = Path(env["PULUMI_CONFIG_PASSPHRASE_FILE"])
    first = path.read_text()
    assert len(first.strip()) >= 40 and oct(path.stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "state").is_dir()  # the file backend directory must exist before login
    assert Path(s.env_vars()["PULUMI_CONFIG_PASSPHRASE_FILE"]).read_text() == first  # kept, not rotated

    given = DriverSettings.resolve(None, None, root=tmp_path / "b", environ={"PULUMI_CONFIG_PASSPHRASE": "x"})
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in given.env_vars()
    other = DriverSettings.resolve(None, "awskms://alias/x", root=tmp_path / "c", environ={})
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in other.env_vars()
    assert not (tmp_path / "c" / "passphrase").exists()


def test_an_empty_passphrase_variable_counts_as_unset(tmp_path):
    # CI writes `PULUMI_CONFIG_PASSPHRASE: ${{ secrets.X }}`, which is "" when the secret is missing.
    s = DriverSettings.resolve(None, None, root=tmp_path, environ={"PULUMI_CONFIG_PASSPHRASE": ""})
    env = s.env_vars()
    generated = Path(env["PULUMI_CONFIG_PASSPHRASE_FILE"]).read_text().strip()
    assert len(generated) >= 40
    assert env["PULUMI_CONFIG_PASSPHRASE"] == generated  # the empty value can no longer win
    only_file = DriverSettings.resolve(None, None, root=tmp_path / "f",
                                       environ={"PULUMI_CONFIG_PASSPHRASE_FILE": ""}).env_vars()
    assert Path(only_file["PULUMI_CONFIG_PASSPHRASE_FILE"]) == tmp_path / "f" / "passphrase"
    assert "PULUMI_CONFIG_PASSPHRASE" not in only_file


def test_project_settings_point_back_at_the_repo(tmp_path):
    s = DriverSettings.resolve(None, None, root=tmp_path, environ={})
    ps = project_settings("pr-1", s).to_dict()
    repo = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    assert ps["name"] == repo["name"]
    assert ps["main"] == str(REPO_ROOT / repo["main"])
    assert Path(ps["runtime"]["options"]["virtualenv"]) == (REPO_ROOT / ".venv").resolve()
    # Pulumi reads a string `config:` as stackConfigDir, relative to the Pulumi.yaml
    assert (workspace_dir("pr-1", s) / ps["config"]).resolve() == STACKS_DIR.resolve()
    assert ps["backend"] == {"url": s.backend_url}


def test_translate_keeps_the_stderr_tail():
    result = auto.CommandResult(stdout="Updating (pr-1)\n+ 3 created",
                                stderr="error: one\nerror: timed out", code=255)
    err = translate(auto.CommandError(result), "up", "pr-1")
    assert str(err) == "up pr-1: pulumi failed (exit 255):\n    error: one\n    error: timed out"
    assert "pulumi cancel --stack pr-1" in str(translate(auto.ConcurrentUpdateError(result), "down", "pr-1"))
    assert "could not be started" in str(translate(FileNotFoundError(2, "x", "pulumi"), "up", "pr-1"))
