"""Processes `loadline local` starts itself (the API, Prometheus), tracked by pid file.

Each runs in its own session, so stopping its process group also stops every
worker it forked. The pid file records the process start time, so a pid reused
by an unrelated process after a crash or reboot is never signalled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

# Not "pids": loadline.services keeps its own pid files there, in another format.
PIDS_DIR = "local-pids"


def _pidfile(wd: Path, name: str) -> Path:
    return wd / PIDS_DIR / f"{name}.json"


def spawn(wd: Path, name: str, cmd: list[str], *, env: dict[str, str], log: Path,
          cwd: Path | None = None) -> int:
    (wd / PIDS_DIR).mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:  # env.up moved the last run's log aside
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
    created = psutil.Process(proc.pid).create_time()
    _pidfile(wd, name).write_text(json.dumps({"pid": proc.pid, "create_time": created,
                                              "cmd": cmd}))
    return proc.pid


def _leader(rec: dict) -> psutil.Process | None:
    try:
        proc = psutil.Process(rec["pid"])
        if proc.create_time() != rec["create_time"] or proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.NoSuchProcess:
        return None


def _group(pgid: int) -> list[psutil.Process]:
    """Live (non-zombie) members of process group `pgid`: the leader's workers outlive it on a crash."""
    out = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return out


def leader(wd: Path, name: str) -> psutil.Process | None:
    """The recorded leader of `name` while it is alive and still ours."""
    path = _pidfile(wd, name)
    return _leader(json.loads(path.read_text())) if path.exists() else None


def alive(wd: Path, name: str) -> bool:
    path = _pidfile(wd, name)
    return path.exists() and _leader(json.loads(path.read_text())) is not None


def stop(wd: Path, name: str, *, timeout_s: float = 15.0) -> bool:
    """Stop `name` and its whole process group; True when something was running."""
    path = _pidfile(wd, name)
    if not path.exists():
        return False
    rec = json.loads(path.read_text())
    pgid = rec["pid"]
    # The group id is only trusted while its leader is ours or the group still exists
    # without one (workers orphaned by a crashed leader); a recycled pid leads neither.
    members = _group(pgid) if _leader(rec) is not None or not psutil.pid_exists(pgid) else []
    for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        if not members:
            break
        for proc in members:
            try:
                proc.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and (members := _group(pgid)):
            time.sleep(0.1)
    path.unlink(missing_ok=True)
    return True


def names(wd: Path) -> list[str]:
    d = wd / PIDS_DIR
    return sorted(p.stem for p in d.glob("*.json")) if d.exists() else []
