"""`loadline render`'s order: the program starts first and is stopped on every way out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadline.render import start_render


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_render_past_its_timeout_is_stopped_and_cleaned_up():
    pending = start_render("dev", timeout=0.05)
    tmp = Path(pending._tmp.name)
    with pytest.raises(subprocess.TimeoutExpired):
        pending.result()
    assert gone(pending.pid) and not tmp.exists()


def test_leaving_a_render_unread_stops_its_program():
    with start_render("dev") as pending:
        tmp = Path(pending._tmp.name)
    assert gone(pending.pid) and not tmp.exists()


PROBE = """
import json, subprocess, sys
from loadline.render.pipeline import render_and_validate
seen = []
class Popen(subprocess.Popen):
    def __init__(self, args, *rest, **kwargs):
        seen.append((" ".join(map(str, args[:3])), "jsonschema" in sys.modules))
        super().__init__(args, *rest, **kwargs)
subprocess.Popen = Popen
result, problems = render_and_validate("dev", validate_output={validate})
print(json.dumps({{"seen": seen, "problems": [str(p) for p in problems],
                  "validation_loaded": "loadline.render.validate" in sys.modules}}))
"""


@pytest.mark.parametrize("validate", [True, False])
def test_the_program_starts_before_the_validation_libraries_load(validate):
    done = subprocess.run([sys.executable, "-c", PROBE.format(validate=validate)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    first, *rest = report["seen"]
    assert first == [f"{sys.executable} -m loadline.render.runner", False]
    assert report["problems"] == []
    assert report["validation_loaded"] is validate
    # promtool ran only when asked to validate.
    assert any(cmd.startswith("promtool") for cmd, _ in rest) is validate
