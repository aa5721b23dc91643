"""`make test` lints first, CI runs `make test`, and the lint configuration finds real problems."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _recipe(target: str) -> tuple[list[str], list[str]]:
    """(prerequisites, recipe lines) of a Makefile target."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{target}:([^#\n]*)(?:##.*)?\n((?:\t.*\n)*)", text, re.M)
    assert match, f"no `{target}` target in the Makefile"
    return match.group(1).split(), [line.strip() for line in match.group(2).splitlines()]


def test_make_test_runs_lint_and_lint_runs_ruff_and_mypy():
    prerequisites, _ = _recipe("test")
    assert "lint" in prerequisites
    _, lint = _recipe("lint")
    assert "$(BIN)/ruff check ." in lint and "$(BIN)/mypy" in lint
    assert not any("format" in line for line in lint), "ruff format is not applied to the tree yet"


def test_ci_runs_make_test():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "test.yml").read_text())
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(re.match(r"make test\b", run) for run in runs), runs


def test_ruff_uses_the_project_rules(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f(x=[]):\n    return x\n")
    result = subprocess.run([str(BIN / "ruff"), "check", "--config", str(ROOT / "pyproject.toml"),
                             "--output-format", "concise", str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "F401" in result.stdout and "B006" in result.stdout


def test_pre_commit_runs_the_same_checks():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    entries = [hook["entry"] for repo in config["repos"] for hook in repo["hooks"]]
    assert any(e.startswith(".venv/bin/ruff check") for e in entries)
    assert ".venv/bin/mypy" in entries
    assert any(e.startswith(".venv/bin/lint-imports") for e in entries)
