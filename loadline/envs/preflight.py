"""Checks run before any Pulumi call: is the CLI there, is there a Kubernetes context.

The Automation API drives the `pulumi` binary; without it `PulumiCommand()` dies with a bare
FileNotFoundError. Checking first turns that into instructions.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from kubernetes import config as kube_config
from kubernetes.config.config_exception import ConfigException

from loadline.envs.errors import EnvError

PULUMI_INSTALL = "curl -fsSL https://get.pulumi.com | sh   (or: brew install pulumi/tap/pulumi)"


def check_pulumi_cli(next_command: str, path: str | None = None) -> str:
    """Return the path of the pulumi binary, or raise EnvError saying how to get one."""
    found = shutil.which("pulumi", path=path)
    if found:
        return found
    raise EnvError(
        "the pulumi CLI is not installed (no `pulumi` on PATH); the Automation API runs it.\n"
        f"  install it: {PULUMI_INSTALL}\n"
        "  make sure `pulumi version` works in this shell, then run:\n"
        f"    {next_command}")


def check_kube_context(next_command: str, environ: Mapping[str, str] | None = None) -> str:
    """Return the current Kubernetes context name, or raise EnvError saying how to set one."""
    environ = os.environ if environ is None else environ
    kubeconfig = environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    if "KUBECONFIG" not in environ and environ.get("KUBERNETES_SERVICE_HOST") \
            and not os.path.exists(kubeconfig):
        return "in-cluster"
    try:
        _, current = kube_config.list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        reason = str(exc).removeprefix("Invalid kube-config file. ").strip() or type(exc).__name__
        where = "KUBECONFIG" if "KUBECONFIG" in environ else "~/.kube/config"
        raise EnvError(
            f"no usable Kubernetes context ({where} = {kubeconfig}: {reason}).\n"
            "  for a local cluster: kind create cluster --name loadline   (kind sets the context)\n"
            "  otherwise: export KUBECONFIG=/path/to/kubeconfig and "
            "kubectl config use-context NAME\n"
            f"  then run:\n    {next_command}") from None
    return current["name"] if isinstance(current, dict) and "name" in current else str(current)


def preflight(next_command: str) -> tuple[str, str]:
    """Both checks, CLI first (nothing else matters without it); returns (pulumi path, context)."""
    return check_pulumi_cli(next_command), check_kube_context(next_command)
