"""Strict validation of a render: Kubernetes schemas and promtool.

Every problem names the object (kind/namespace/name or file) and the field.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes_validate import utils as kv

from loadline.render import RenderResult

PROMTOOL = "promtool"

# kubernetes-validate re-reads multi-megabyte schema files for every object; the files
# never change within a process, so read each once.
kv.schema_contents = functools.lru_cache(maxsize=None)(kv.schema_contents)

_CRD_REQUIRED = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): [("spec", "selector"), ("spec", "endpoints")],
    ("monitoring.coreos.com/v1", "PrometheusRule"): [("spec", "groups")],
}


@dataclass(frozen=True)
class Problem:
    where: str
    """The object (Kind/namespace/name) or file."""
    message: str
    """The field and the reason."""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def object_id(manifest: dict[str, Any]) -> str:
    meta = manifest.get("metadata") or {}
    ns = meta.get("namespace")
    return "/".join(x for x in (manifest.get("kind", "?"), ns, meta.get("name", "?")) if x)


def _check_crd(manifest: dict[str, Any]) -> list[Problem]:
    required = _CRD_REQUIRED.get((str(manifest.get("apiVersion")), str(manifest.get("kind"))))
    if required is None:
        return [Problem(object_id(manifest), f"no schema for {manifest.get('apiVersion')} {manifest.get('kind')}")]
    problems = []
    for path in required:
        node: Any = manifest
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if not node:
            problems.append(Problem(object_id(manifest), f"{'.'.join(path)}: required and must not be empty"))
    return problems


def validate_manifests(manifests: list[dict[str, Any]], kubernetes_version: str) -> list[Problem]:
    """kubernetes-validate in strict mode (unknown fields are errors) for the given version."""
    problems: list[Problem] = []
    for manifest in manifests:
        try:
            kv.validate(manifest, kubernetes_version, strict=True)
        except kv.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(object)"
            problems.append(Problem(object_id(manifest), f"{path}: {exc.message}"))
        except kv.SchemaNotFoundError:
            problems.extend(_check_crd(manifest))
        except kv.VersionNotSupportedError:
            return [Problem("kubernetesVersion", f"kubernetes-validate has no schemas for Kubernetes {kubernetes_version}")]
    return problems


def _promtool(args: list[str], cwd: Path, where: str) -> list[Problem]:
    proc = subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    if proc.returncode == 0:
        return []
    output = (proc.stdout + proc.stderr).strip().splitlines()
    return [Problem(where, f"promtool {' '.join(args[:2])} failed:\n    " + "\n    ".join(output[-40:]))]


def validate_prometheus(result: RenderResult) -> list[Problem]:
    """promtool check config / check rules / test rules on the rendered files."""
    files = {rel: content for rel, content in result.files().items() if rel.startswith("prometheus/")}
    if not files:
        return []
    if shutil.which(PROMTOOL) is None:
        return [Problem("prometheus/", "promtool not found on PATH (make setup installs it)")]
    problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="loadline-promtool-") as tmp:
        root = Path(tmp)
        for rel, content in files.items():
            (root / Path(rel).name).write_text(yaml.safe_dump(content, sort_keys=False))
        if "prometheus/prometheus.yml" in files:
            # check config also checks every rule file it references.
            problems += _promtool(["check", "config", "prometheus.yml"], root, "prometheus/prometheus.yml")
        problems += _promtool(["check", "rules", "rules.yml"], root, "prometheus/rules.yml")
        if "prometheus/rules_test.yml" in files:
            problems += _promtool(["test", "rules", "rules_test.yml"], root, "prometheus/rules_test.yml")
    return problems


def validate(result: RenderResult) -> list[Problem]:
    return (validate_manifests(result.manifests, result.profile.kubernetes_version)
            + validate_prometheus(result))
