"""Ending a child process the polite way first."""

from __future__ import annotations

import subprocess


def terminate(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM a still-running `proc`, SIGKILL it if it has not exited after `grace_s`, and reap it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
