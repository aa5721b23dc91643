"""The command line starts without the heavy libraries: only the commands that use them import them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "locust", "pulumi", "kubernetes_validate")

PROBE = """
import json, sys
argv = {argv!r}
if argv:
    from loadline.cli import main
    sys.argv = ["loadline", *argv]
    try:
        main()
    except SystemExit:
        pass
else:
    import loadline.cli
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})), file=sys.stderr)
"""


def loaded_after(argv: list[str]) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True,
                          timeout=120)
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("argv", [[], ["--help"], ["profile", "prod"], ["env", "list", "--json"]],
                         ids=["import", "help", "profile", "env-list"])
def test_commands_that_need_no_heavy_library_do_not_load_one(argv):
    loaded = loaded_after(argv)
    assert "loadline" in loaded
    assert not loaded & set(HEAVY), f"loaded by `loadline {' '.join(argv)}`: {sorted(loaded & set(HEAVY))}"


def test_the_probe_sees_a_heavy_import():
    # `loadline render --help` stays light, but the module it runs does import kubernetes_validate.
    proc = subprocess.run([sys.executable, "-c", "import sys, loadline.render.validate; "
                           "print('kubernetes_validate' in sys.modules)"], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "True", proc.stderr
