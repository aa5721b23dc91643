"""The import rules of docs/architecture.md hold: import-linter checks pyproject.toml's contracts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(*config: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT_IMPORTS, "--no-cache", "--no-logo", *config], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_every_import_contract_is_kept():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_layer_importing_upwards_breaks_the_contract(tmp_path):
    # Same graph, the layers turned upside down: the tool must report the real imports.
    config = tmp_path / "upside-down.toml"
    config.write_text('[tool.importlinter]\nroot_packages = ["loadline", "components"]\n\n'
                      '[[tool.importlinter.contracts]]\nname = "upside down"\ntype = "layers"\n'
                      'layers = ["loadline.profile", "components", "loadline.cli"]\n')
    result = lint_imports(str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "components" in result.stdout and "BROKEN" in result.stdout
