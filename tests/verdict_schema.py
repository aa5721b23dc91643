"""Every verdict the tests produce must match the published schema (docs/verdict.schema.json)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema

SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "verdict.schema.json"


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(verdict: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in _validator().iter_errors(verdict)]


def assert_valid_verdict(verdict: object, where: str = "verdict") -> None:
    errors = schema_errors(verdict)
    assert not errors, f"{where} does not match {SCHEMA.name}:\n  " + "\n  ".join(errors)


def assert_valid_verdict_files(root: Path) -> int:
    """Validate every verdict.json under `root`; returns how many there were."""
    paths = sorted(root.rglob("verdict.json")) if root.exists() else []
    for path in paths:
        assert_valid_verdict(json.loads(path.read_text()), str(path))
    return len(paths)
