import shutil
import stat
import sys
from pathlib import Path

import pytest
import yaml

from loadline.envs import lifecycle
from loadline.profile import STACKS_DIR

HERE = Path(__file__).resolve().parent


@pytest.fixture
def home(tmp_path, monkeypatch):
    """Private state dir and stacks/ copy, PATH without pulumi, no kubeconfig."""
    stacks = tmp_path / "stacks"
    shutil.copytree(STACKS_DIR, stacks)
    monkeypatch.setattr(lifecycle, "STACKS", stacks)
    monkeypatch.setenv("LOADLINE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    for var in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"):
        monkeypatch.delenv(var, raising=False)
    assert shutil.which("pulumi") is None, "this test needs a PATH without pulumi"
    return tmp_path


@pytest.fixture
def fake_cli(home, monkeypatch):
    """A `pulumi` on PATH (tests/envs/fake_pulumi.py) and a kubeconfig with a current context."""
    bin_dir = home / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "pulumi"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "fake_pulumi.py"}" "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_PULUMI_STATE", str(home / "fake-backend"))
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(home / "pulumi.log"))
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "kind-loadline",
        "contexts": [{"name": "kind-loadline", "context": {"cluster": "kind-loadline", "user": "u"}}],
        "clusters": [{"name": "kind-loadline", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    return home


@pytest.fixture
def deployable(fake_cli):
    """fake_cli, for tests that run `up`: the fake checks, like pulumi, that `main` exists."""
    return fake_cli
