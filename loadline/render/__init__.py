"""Offline render: the real Pulumi program under mocks, turned into Kubernetes YAML.

    from loadline.render import render_stack
    result = render_stack("prod")   # raises ProfileError on a bad profile
    result.manifests                # every Kubernetes object, plain values, secrets masked
    result.write("out/prod")        # manifests/<component>/<kind>-<name>.yaml + prometheus/*.yml

Each render runs the program in a fresh Python subprocess (`loadline.render.runner`),
because Pulumi's runtime state is process-global and cannot be reset in-process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loadline.profile import STACKS_DIR, Profile, ProfileError, load_profile, read_stack_config
from loadline.render.values import MASK, clean, contains_unknown

__all__ = ["MASK", "PendingRender", "ProfileError", "RenderError", "RenderResult", "RenderedResource", "render_stack",
           "start_render"]

_KEY_ORDER = ("apiVersion", "kind", "metadata")


class RenderError(RuntimeError):
    """The program failed under mocks for a reason other than an invalid profile."""


@dataclass(frozen=True)
class RenderedResource:
    """One registration, as Pulumi saw it (inputs cleaned and secrets masked)."""

    type_token: str
    name: str
    props: dict[str, Any]
    parent: str | None
    urn: str = ""
    custom: bool = True
    dependencies: tuple[str, ...] = ()
    """Names of the resources this one explicitly depends on (`depends_on` and Output inputs)."""
    options: dict[str, Any] = field(default_factory=dict)
    """protect, deleteBeforeReplace, ignoreChanges, customTimeouts."""
    secret_paths: tuple[str, ...] = ()
    """Property paths that held Pulumi secrets (now masked)."""

    @property
    def is_kubernetes(self) -> bool:
        return self.custom and self.type_token.startswith("kubernetes:")


@dataclass
class RenderResult:
    stack: str
    profile: Profile
    resources: list[RenderedResource]
    manifests: list[dict[str, Any]]
    prometheus_config: dict[str, Any] | None
    alert_rules: dict[str, Any] | None
    outputs: dict[str, Any]
    rule_tests: dict[str, Any] | None = None
    """promtool unit tests for the rules (generated from the same profile)."""
    burn_rate_tests: dict[str, dict[str, Any]] | None = None
    """File name -> promtool tests for the burn-rate alerts, one file per window pair."""
    operator_rules: dict[str, Any] | None = None
    """Operator mode: the rule groups of the PrometheusRule object."""
    alertmanager_config: dict[str, Any] | None = None
    """The Alertmanager configuration that routes the stack's alerts (checked with amtool)."""

    def resource_of(self, manifest: dict[str, Any]) -> RenderedResource:
        return self._owners[id(manifest)]

    def files(self) -> dict[str, Any]:
        """Relative path -> content (a dict written as YAML) of everything `write` produces."""
        out: dict[str, Any] = {}
        for manifest in self.manifests:
            owner = self.resource_of(manifest).parent or "stack"
            kind = manifest["kind"].lower()
            out[f"manifests/{owner}/{kind}-{manifest['metadata']['name']}.yaml"] = manifest
        rules = self.alert_rules or self.operator_rules
        if self.prometheus_config is not None:
            out["prometheus/prometheus.yml"] = self.prometheus_config
        if rules is not None:
            out["prometheus/rules.yml"] = rules
            if self.rule_tests is not None:
                out["prometheus/rules_test.yml"] = self.rule_tests
            for name, tests in (self.burn_rate_tests or {}).items():
                out[f"prometheus/{name}"] = tests
        if self.alertmanager_config is not None:
            out["prometheus/alertmanager.yml"] = self.alertmanager_config
        return out

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write every file under out_dir (its manifests/ and prometheus/ are replaced)."""
        root = Path(out_dir)
        for sub in ("manifests", "prometheus"):
            shutil.rmtree(root / sub, ignore_errors=True)
        written = []
        for rel, content in self.files().items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(content, sort_keys=False, width=120))
            written.append(path)
        return written

    _owners: dict[int, RenderedResource] = field(default_factory=dict, repr=False)


def _config_payload(stack: str, stacks_dir: Path) -> dict[str, Any]:
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in read_stack_config(stack, stacks_dir).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            # Ciphertext needs the stack's passphrase; the render only needs a stand-in.
            values[key] = f"secure-config-stand-in-for-{key}"
            secret_keys.append(key)
        elif isinstance(value, str):
            values[key] = value
        else:
            values[key] = json.dumps(value)
    return {"values": values, "secret_keys": secret_keys}


def _name_of(urn: str | None) -> str | None:
    return urn.split("::")[-1] if urn else None


def _order(manifest: dict[str, Any]) -> dict[str, Any]:
    head = {k: manifest[k] for k in _KEY_ORDER if k in manifest}
    return {**head, **{k: v for k, v in manifest.items() if k not in head}}


class PendingRender:
    """The program running for one stack in its own process, started by `start_render`.

    `result()` waits for it; `close()` (or leaving a `with` block) stops it if it still runs."""

    def __init__(self, stack: str, stacks_dir: Path, timeout: float, profile: Profile) -> None:
        self.stack, self.profile, self._timeout = stack, profile, timeout
        self._tmp = tempfile.TemporaryDirectory(prefix="loadline-render-")
        config_path = Path(self._tmp.name) / "config.json"
        self._out_path = Path(self._tmp.name) / "out.json"
        config_path.write_text(json.dumps(_config_payload(stack, stacks_dir)))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "loadline.render.runner", stack, str(config_path), str(self._out_path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    @property
    def pid(self) -> int:
        """The program's process."""
        return self._proc.pid

    def result(self) -> RenderResult:
        """What the program would deploy; raises RenderError when it failed, TimeoutExpired after `timeout`."""
        try:
            try:
                _, stderr = self._proc.communicate(timeout=self._timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.communicate()
                raise
            if not self._out_path.exists():
                raise RenderError(f"the program crashed for stack '{self.stack}':\n{stderr[-3000:]}")
            data = json.loads(self._out_path.read_text())
        finally:
            self.close()
        return _result(self.stack, self.profile, data)

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.communicate()
        self._tmp.cleanup()

    def __enter__(self) -> PendingRender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_render(stack: str, *, stacks_dir: Path = STACKS_DIR, timeout: float = 120,
                 profile: Profile | None = None) -> PendingRender:
    """Start the program for `stack` under mocks and return at once; raises ProfileError for a bad profile.

    For callers with other work to do meanwhile (the render's checks start while the
    program runs). PROFILE: the stack's profile when the caller has already read it.
    """
    return PendingRender(stack, stacks_dir, timeout, profile or load_profile(stack, stacks_dir))


def render_stack(stack: str, *, stacks_dir: Path = STACKS_DIR, timeout: float = 120,
                 profile: Profile | None = None) -> RenderResult:
    """Run the program for `stack` under mocks and return what it would deploy.

    PROFILE: the stack's profile when the caller has already read it.
    """
    return start_render(stack, stacks_dir=stacks_dir, timeout=timeout, profile=profile).result()


def _result(stack: str, profile: Profile, data: dict[str, Any]) -> RenderResult:
    if "error" in data:
        raise RenderError(data["error"])

    resources: list[RenderedResource] = []
    manifests: list[dict[str, Any]] = []
    owners: dict[int, RenderedResource] = {}
    for rec in data["resources"]:
        secret_paths: list[str] = []
        props = clean(rec["inputs"], secret_paths=secret_paths)
        if contains_unknown(props):
            raise RenderError(f"{rec['type']} {rec['name']}: an input is unknown under mocks")
        res = RenderedResource(
            type_token=rec["type"], name=rec["name"], props=props, parent=_name_of(rec["parent"]),
            urn=rec["urn"], custom=rec["custom"],
            dependencies=tuple(n for n in (_name_of(u) for u in rec["dependencies"]) if n),
            options=rec["options"], secret_paths=tuple(secret_paths),
        )
        resources.append(res)
        if res.is_kubernetes:
            manifest = _order(props)
            manifests.append(manifest)
            owners[id(manifest)] = res

    prom_config = alert = operator_rules = None
    for manifest in manifests:
        data_files = manifest.get("data") or {}
        if manifest["kind"] == "ConfigMap" and "prometheus.yml" in data_files:
            prom_config = yaml.safe_load(data_files["prometheus.yml"])
            alert = yaml.safe_load(data_files["rules.yml"])
        if manifest["kind"] == "PrometheusRule":
            operator_rules = manifest["spec"]
    from components.monitoring.alertmanager import alertmanager_config
    from loadline.render.burn_rate_tests import burn_rate_tests
    from loadline.render.rule_tests import rule_tests

    env_outputs: dict[str, Any] = next((v for urn, v in data["outputs"].items()
                        if urn.split("::")[2].split("$")[-1] == "loadline:environment:Environment"), {})
    result = RenderResult(
        stack=stack, profile=profile, resources=resources, manifests=manifests,
        prometheus_config=prom_config, alert_rules=alert, outputs=clean(env_outputs),
        rule_tests=rule_tests(profile, "rules.yml") if (alert or operator_rules) else None,
        burn_rate_tests=burn_rate_tests(profile, "rules.yml") if (alert or operator_rules) else None,
        operator_rules=operator_rules,
        alertmanager_config=alertmanager_config(profile) if (alert or operator_rules) else None,
    )
    result._owners = owners
    return result


