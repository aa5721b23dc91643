"""A Locust run that hangs, or ends without statistics, is an error (exit 2), never a verdict.

Locust is real here; only the locustfile is one written to misbehave.
"""

from __future__ import annotations

import io
import threading

import psutil
from rich.console import Console

from loadline.gate import runner
from loadline.gate.decision import Targets
from loadline.profile import load_profile

NO_STATS = '''
from locust import User, task, constant


class Idle(User):
    wait_time = constant(0.2)

    @task
    def nothing(self):
        pass
'''


def _run(tmp_path, monkeypatch, locustfile: str, *, grace_s: int, duration_s: int = 1):
    script = tmp_path / "loadtests" / "locustfile.py"
    script.parent.mkdir()
    script.write_text(locustfile)
    monkeypatch.setattr(runner, "LOCUSTFILE", script)
    monkeypatch.setattr(runner, "GRACE_S", grace_s)
    report = tmp_path / "report"
    report.mkdir()
    run = runner.GateRun(stack="local", profile=load_profile("local"), host="http://127.0.0.1:9",
                         report_dir=report, api_key="k", targets=Targets(1, 0, 1), duration_s=duration_s)
    errors: list[BaseException] = []

    def go():
        try:
            runner._run_locust(run, report / "seed.json", report / "stats.json", Console(file=io.StringIO()))
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)
    # In a thread, so that a gate that waits forever fails this test instead of hanging it.
    worker = threading.Thread(target=go, daemon=True)
    worker.start()
    worker.join(timeout=90)
    if worker.is_alive():
        for child in psutil.Process().children(recursive=True):
            if "locust" in " ".join(child.cmdline()):
                child.kill()
        raise AssertionError("the gate is still waiting for Locust")
    assert [c for c in psutil.Process().children(recursive=True) if "locust" in " ".join(c.cmdline())] == []
    assert len(errors) == 1 and isinstance(errors[0], runner.GateError), errors
    return str(errors[0])


def test_a_locust_that_never_stops_is_stopped_and_reported(tmp_path, monkeypatch):
    # No shape and no run time: this Locust would run until killed.
    msg = _run(tmp_path, monkeypatch, NO_STATS, grace_s=2)
    assert "without statistics" in msg and "locust.log" in msg


def test_a_locust_that_fails_at_start_names_its_log(tmp_path, monkeypatch):
    # Time enough to start on a busy machine: it must exit by itself, not be stopped.
    msg = _run(tmp_path, monkeypatch, "raise RuntimeError('locustfile is broken on purpose')\n", grace_s=60)
    assert "Locust exited with code 1 without statistics" in msg
    assert "locustfile is broken on purpose" in msg  # the log's tail says why


def test_every_file_a_locust_run_leaves_is_cleared_by_the_next_run(tmp_path, monkeypatch):
    _run(tmp_path, monkeypatch, NO_STATS, grace_s=5, duration_s=10)  # long enough to write its CSVs
    report = tmp_path / "report"
    left = {p.name for p in report.iterdir()}
    assert "locust_stats.csv" in left  # Locust really wrote its reports
    assert left <= {*runner.OUTPUTS, runner.START_FILE, runner.CREATED_FILE}, left
    (report / "notes.txt").write_text("mine")
    runner.clear_outputs(report)
    assert [p.name for p in report.iterdir()] == ["notes.txt"]
