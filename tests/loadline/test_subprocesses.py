"""Ending a child: SIGTERM first, SIGKILL once the grace period is over, always reaped."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

from loadline.subprocesses import terminate

IGNORES_TERM = ("import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('ready', flush=True); time.sleep(120)")


def _child(code: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"  # its handlers are installed
    return proc


def test_a_child_that_obeys_sigterm_is_not_killed():
    proc = _child("import time; print('ready', flush=True); time.sleep(120)")
    terminate(proc, grace_s=30)
    assert proc.returncode == -signal.SIGTERM


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period():
    proc = _child(IGNORES_TERM)
    # In a thread, so that a terminate() that never escalates fails this test instead of hanging it.
    worker = threading.Thread(target=terminate, args=(proc,), kwargs={"grace_s": 0.5}, daemon=True)
    worker.start()
    worker.join(timeout=30)
    try:
        assert not worker.is_alive(), "still waiting for a child that ignores SIGTERM"
        assert proc.returncode == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()


def test_an_exited_child_is_left_alone():
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    terminate(proc, grace_s=0.1)
    assert proc.returncode == 3
