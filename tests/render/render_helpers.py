"""Helpers for render tests: stack files derived from the shipped ones, in a temporary stacks dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from loadline.profile import read_stack_config
from tests.profile_patch import patched


def write_stack(stacks_dir: Path, stack: str, base: str, patch: dict[str, Any] | None = None,
                extra_config: dict[str, Any] | None = None) -> Path:
    config = dict(read_stack_config(base))
    config["loadline:profile"] = patched(config["loadline:profile"], patch or {})
    config.update(extra_config or {})
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path
