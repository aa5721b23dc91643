"""Helpers for render tests: stack files derived from the shipped ones, in a temporary stacks dir."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from loadline.profile import read_stack_config


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def write_stack(stacks_dir: Path, stack: str, base: str, patch: dict[str, Any] | None = None,
                extra_config: dict[str, Any] | None = None) -> Path:
    config = dict(read_stack_config(base))
    config["loadline:profile"] = _merge(config["loadline:profile"], patch or {})
    config.update(extra_config or {})
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path
