"""Pulumi.yaml: what the Pulumi CLI would read, checked against the rules it enforces."""

from __future__ import annotations

from pathlib import Path

import yaml

from loadline.profile import available_stacks, read_stack_config

ROOT = Path(__file__).resolve().parents[2]
# Pulumi's project schema: a declared `type` may only be one of these (objects stay untyped).
PULUMI_TYPES = {"string", "integer", "boolean", "array"}


def project() -> dict:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def test_runtime_and_stack_dir():
    p = project()
    assert p["name"] == "loadline"
    assert p["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    assert p["stackConfigDir"] == "stacks" and p["main"] == "__main__.py"
    assert (ROOT / p["main"]).exists()


def test_every_key_is_described_and_typed_as_pulumi_allows():
    keys = project()["config"]
    for key, decl in keys.items():
        assert key.startswith("loadline:"), f"{key} must be namespaced by the project"
        assert decl.get("description"), key
        assert decl.get("type") in PULUMI_TYPES | {None}, key
        assert not ("default" in decl and "value" in decl), key
    undeclared = [(stack, key) for stack in available_stacks() for key in read_stack_config(stack)
                  if key.startswith("loadline:") and key not in keys]
    assert undeclared == []
