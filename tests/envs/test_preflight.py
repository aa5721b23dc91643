import os
import stat

import pytest
import yaml

from loadline.envs.errors import EnvError
from loadline.envs.preflight import check_kube_context, check_pulumi_cli

NEXT = "loadline env up pr-1 --from dev"


def fake_pulumi(directory):
    exe = directory / "pulumi"
    exe.write_text("#!/bin/sh\necho v3.200.0\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_missing_cli_says_what_to_install_and_run_next(tmp_path):
    with pytest.raises(EnvError) as err:
        check_pulumi_cli(NEXT, path=str(tmp_path))
    msg = str(err.value)
    assert "pulumi CLI is not installed" in msg
    assert "get.pulumi.com" in msg
    assert msg.rstrip().endswith(NEXT)


def test_cli_found_on_path(tmp_path):
    exe = fake_pulumi(tmp_path)
    assert check_pulumi_cli(NEXT, path=f"/nonexistent{os.pathsep}{tmp_path}") == str(exe)


def kubeconfig(path, current="kind-loadline"):
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "contexts": [{"name": "kind-loadline", "context": {"cluster": "kind-loadline", "user": "u"}}],
        "clusters": [{"name": "kind-loadline", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }))
    return path


def test_kube_context_from_kubeconfig(tmp_path):
    cfg = kubeconfig(tmp_path / "config")
    assert check_kube_context(NEXT, {"KUBECONFIG": str(cfg)}) == "kind-loadline"


def test_missing_kubeconfig_says_how_to_get_a_context(tmp_path):
    with pytest.raises(EnvError) as err:
        check_kube_context(NEXT, {"KUBECONFIG": str(tmp_path / "missing")})
    msg = str(err.value)
    assert "no usable Kubernetes context (KUBECONFIG" in msg
    assert "kind create cluster" in msg and "kubectl config use-context" in msg
    assert msg.rstrip().endswith(NEXT)


def test_current_context_that_does_not_exist(tmp_path):
    cfg = kubeconfig(tmp_path / "config", current="gone")
    with pytest.raises(EnvError, match="Expected object with name gone"):
        check_kube_context(NEXT, {"KUBECONFIG": str(cfg)})


def test_in_cluster_without_kubeconfig(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert check_kube_context(NEXT, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}) == "in-cluster"
    with pytest.raises(EnvError, match="~/.kube/config"):
        check_kube_context(NEXT, {})
