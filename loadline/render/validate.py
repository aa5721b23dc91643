"""Strict validation of a render: Kubernetes schemas, promtool, amtool, and the metrics each query reads.

Every problem names the object (kind/namespace/name or file) and the field.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

from loadline.profile import Profile
from loadline.render import RenderResult
from loadline.render.queries import query_problems
from loadline.render.rules_under_test import split

PROMTOOL = "promtool"
PROMTOOL_TIMEOUT_S = 120
AMTOOL = "amtool"
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

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


# The schemas kubernetes-validate ships, used the way its `validate(strict=True)` uses them,
# but with one compiled validator per kind: its own function rebuilds the validator and
# re-resolves the shared definitions for every object.
@functools.cache
def _schema_dir(kubernetes_version: str) -> tuple[str, str]:
    """(strict schema directory, the version it holds) for KUBERNETES_VERSION."""
    wanted = kv.major_minor(kubernetes_version.removeprefix("v"))
    if wanted > kv.latest_version():
        raise kv.VersionNotSupportedError(version=wanted)
    version = [v for v in kv.all_versions() if kv.major_minor(v) <= wanted][-1]
    return f"kubernetes-json-schema/v{version}-local-strict", wanted


@functools.cache
def _definitions(schema_dir: str, version: str) -> Registry[Any]:
    defs = kv.schema_contents(f"{schema_dir}/_definitions.json", version)
    return Resource.from_contents(defs) @ Registry()


@functools.cache
def _validator(schema_dir: str, version: str, kind: str, api_version: str) -> jsonschema.Draft202012Validator:
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"{schema_dir}/{kind.lower()}-{group}.json", version)
    except FileNotFoundError:
        raise kv.SchemaNotFoundError(version=version, kind=kind, api_version=api_version) from None
    registry = Resource.from_contents(schema) @ _definitions(schema_dir, version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def warm_schemas(kubernetes_version: str) -> None:
    """Read the shared schema definitions now (e.g. while the program renders); errors surface later."""
    try:
        _definitions(*_schema_dir(kubernetes_version))
    except (kv.VersionNotSupportedError, OSError):
        pass


def validate_manifests(manifests: list[dict[str, Any]], kubernetes_version: str) -> list[Problem]:
    """kubernetes-validate's schemas in strict mode (unknown fields are errors) for the given version."""
    if not manifests:
        return []
    try:
        schema_dir, version = _schema_dir(kubernetes_version)
    except kv.VersionNotSupportedError:
        return [Problem("kubernetesVersion", f"kubernetes-validate has no schemas for Kubernetes {kubernetes_version}")]
    problems: list[Problem] = []
    for manifest in manifests:
        try:
            _validator(schema_dir, version, manifest["kind"], manifest["apiVersion"]).validate(manifest)
        except jsonschema.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(object)"
            problems.append(Problem(object_id(manifest), f"{path}: {exc.message}"))
        except kv.SchemaNotFoundError:
            problems.extend(_check_crd(manifest))
    return problems


def _run_at_once(runs: list[tuple[list[str], str]], cwd: Path) -> list[tuple[int, list[str]]]:
    """(exit status, output lines) of each promtool command, all started at once (they read
    the same files and nothing else)."""
    # Go's collector at its default pace spends about a tenth of these short runs; the
    # user's own GOGC still wins.
    env = {"GOGC": "200", **os.environ}
    started = [subprocess.Popen([PROMTOOL, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env) for args, _ in runs]
    done = []
    try:
        for proc in started:
            out, err = proc.communicate(timeout=PROMTOOL_TIMEOUT_S)
            done.append((proc.returncode, (out + err).strip().splitlines()))
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return done


def _failed(args: list[str], where: str, output: list[str]) -> Problem:
    return Problem(where, f"promtool {' '.join(args[:2])} failed:\n    " + "\n    ".join(output[-40:]))


def _promtool_all(runs: list[tuple[list[str], str]], cwd: Path) -> list[Problem]:
    """Every promtool command's problems, in the order of RUNS.

    The test files go to one `promtool test rules`: a Go process costs more to start and
    warm up than most of these files cost to run. Only when it fails does each file run in
    a promtool of its own, so every problem names the file that failed."""
    tests = [run for run in runs if run[0][:2] == ["test", "rules"]]
    if len(tests) < 2:
        return [_failed(args, where, out) for (args, where), (code, out) in zip(runs, _run_at_once(runs, cwd),
                                                                                 strict=True) if code]
    others = [run for run in runs if run[0][:2] != ["test", "rules"]]
    joined = (["test", "rules", *(arg for args, _ in tests for arg in args[2:])], "prometheus/")
    *outcomes, (joined_code, joined_out) = _run_at_once([*others, joined], cwd)
    failed = {where: _failed(args, where, out) for (args, where), (code, out) in zip(others, outcomes, strict=True)
              if code}
    if joined_code:
        failed.update({where: _failed(args, where, out) for (args, where), (code, out)
                       in zip(tests, _run_at_once(tests, cwd), strict=True) if code})
        if not any(where in failed for _, where in tests):
            failed[joined[1]] = _failed(joined[0], joined[1], joined_out)
    return [failed[where] for _, where in [*runs, joined] if where in failed]


def _promtool_runs(files: dict[str, Any], *, config: bool) -> list[tuple[list[str], str]]:
    runs: list[tuple[list[str], str]] = []
    if config and "prometheus/prometheus.yml" in files:
        # check config also checks every rule file it references.
        runs.append((["check", "config", "prometheus.yml"], "prometheus/prometheus.yml"))
    if "prometheus/rules.yml" in files:
        runs.append((["check", "rules", "rules.yml"], "prometheus/rules.yml"))
    # One promtool per test file: the burn-rate files are the slowest and run side by side.
    for rel in sorted(rel for rel in files if rel.endswith("_test.yml")):
        runs.append((["test", "rules", Path(rel).name], rel))
    return runs


def _promtool_on(files: dict[str, Any], runs: list[tuple[list[str], str]]) -> list[Problem]:
    if shutil.which(PROMTOOL) is None:
        return [Problem("prometheus/", "promtool not found on PATH (make setup installs it)")]
    by_name = {Path(rel).name: content for rel, content in files.items()}
    rule_files = {name: content for name, content in by_name.items()
                  if isinstance(content, dict) and "groups" in content}
    written = dict(by_name)
    test_parts: dict[str, list[str]] = {}
    for name, content in by_name.items():
        if name.endswith("_test.yml"):
            tests, cuts = split(name, content, rule_files)
            del written[name]
            written.update({**cuts, **tests})
            test_parts[name] = list(tests)
    with tempfile.TemporaryDirectory(prefix="loadline-promtool-") as tmp:
        root = Path(tmp)
        for name, content in written.items():
            # Only promtool reads these: libyaml's emitter, not the one that writes the render.
            (root / name).write_text(yaml.dump(content, Dumper=_DUMPER, sort_keys=False))
        # A test file runs as its parts, in one promtool, so a failure names the file the user has.
        runs = [([*args[:2], *(part for arg in args[2:] for part in test_parts[arg])]
                 if args[:2] == ["test", "rules"] else args, where) for args, where in runs]
        return _promtool_all(runs, root)


def _rule_files(result: RenderResult) -> dict[str, Any]:
    """The rule file and its promtool tests, as written under prometheus/."""
    return {rel: content for rel, content in result.files().items()
            if rel == "prometheus/rules.yml" or rel.endswith("_test.yml")}


def validate_prometheus(result: RenderResult, early: EarlyPromtool | None = None) -> list[Problem]:
    """promtool check config / check rules / test rules on the rendered files.

    EARLY: the same checks started from the profile before the program ran; their outcome
    stands for the rendered files when those are the files it checked.
    """
    files = {rel: content for rel, content in result.files().items() if rel.startswith("prometheus/")}
    if not files:
        return []
    if early is not None and early.files == _rule_files(result):
        config_runs = _promtool_runs(files, config=True)[:1] if "prometheus/prometheus.yml" in files else []
        config = _promtool_on(files, config_runs) if config_runs else []
        return config + early.problems()
    return _promtool_on(files, _promtool_runs(files, config=True))


class EarlyPromtool:
    """promtool on the rules and rule tests the profile implies, while the program renders.

    The tests (thousands of rule evaluations) are the slowest check of a render and need
    nothing the program computes, so they need not wait for it.
    """

    def __init__(self, profile: Profile) -> None:
        from components.monitoring.config import alert_rules
        from loadline.render.burn_rate_tests import burn_rate_tests
        from loadline.render.rule_tests import rule_tests

        self.files: dict[str, Any] = {"prometheus/rules.yml": alert_rules(profile),
                                      "prometheus/rules_test.yml": rule_tests(profile, "rules.yml")}
        self.files.update({f"prometheus/{name}": tests for name, tests in burn_rate_tests(profile, "rules.yml").items()})
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promtool-early")
        self._future = self._pool.submit(_promtool_on, self.files, _promtool_runs(self.files, config=False))
        self._pool.shutdown(wait=False)

    def problems(self) -> list[Problem]:
        return self._future.result()


def validate_alertmanager(result: RenderResult) -> list[Problem]:
    """amtool check-config on the rendered Alertmanager configuration."""
    content = result.files().get("prometheus/alertmanager.yml")
    if content is None:
        return []
    if shutil.which(AMTOOL) is None:
        return [Problem("prometheus/alertmanager.yml", "amtool not found on PATH (make setup installs "
                        "prometheus-alertmanager)")]
    with tempfile.TemporaryDirectory(prefix="loadline-amtool-") as tmp:
        path = Path(tmp) / "alertmanager.yml"
        path.write_text(yaml.safe_dump(content, sort_keys=False))
        proc = subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT_S)
    if proc.returncode == 0:
        return []
    output = (proc.stdout + proc.stderr).strip().splitlines()
    return [Problem("prometheus/alertmanager.yml", "amtool check-config failed:\n    " + "\n    ".join(output[-40:]))]


def validate_queries(result: RenderResult) -> list[Problem]:
    """Dashboard panels and rules: valid PromQL that reads only series something produces."""
    rules = result.alert_rules or result.operator_rules
    return [Problem(where, message) for where, message in query_problems(result.manifests, rules)]


def validate(result: RenderResult, early: EarlyPromtool | None = None) -> list[Problem]:
    """Schema problems, then promtool's, amtool's and the queries'; promtool runs while the schemas are checked."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="promtool") as pool:
        prometheus = pool.submit(validate_prometheus, result, early)
        problems = validate_manifests(result.manifests, result.profile.kubernetes_version)
        return problems + prometheus.result() + validate_alertmanager(result) + validate_queries(result)
