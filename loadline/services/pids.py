"""Pid files under a workdir, so a later process can stop what an earlier one started.

Each started server gets `<workdir>/pids/<name>.json` holding its pid, the
process start time (so a recycled pid is never signalled) and the signal that
shuts it down cleanly (PostgreSQL needs SIGINT for a fast shutdown; SIGTERM
would wait for every client to disconnect).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import psutil

PID_DIR = "pids"


def _pid_dir(workdir: Path) -> Path:
    d = Path(workdir) / PID_DIR
    d.mkdir(parents=True, exist_ok=True)
    return d


def record(workdir: Path, name: str, pid: int, stop_signal: int = signal.SIGTERM) -> Path:
    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        created = 0.0
    path = _pid_dir(workdir) / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": pid, "create_time": created, "stop_signal": int(stop_signal)}))
    tmp.replace(path)
    return path


def forget(workdir: Path, name: str) -> None:
    (Path(workdir) / PID_DIR / f"{name}.json").unlink(missing_ok=True)


def _live_process(entry: dict) -> psutil.Process | None:
    try:
        proc = psutil.Process(entry["pid"])
        if entry.get("create_time") and abs(proc.create_time() - entry["create_time"]) > 1.0:
            return None  # the pid now belongs to someone else
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.NoSuchProcess:
        return None


def stop_recorded(workdir: Path, name: str, timeout_s: float = 15.0) -> bool:
    """Stop one recorded process; True when it was running."""
    path = Path(workdir) / PID_DIR / f"{name}.json"
    if not path.exists():
        return False
    entry = json.loads(path.read_text())
    stopped = _terminate([entry], timeout_s)
    path.unlink(missing_ok=True)
    return bool(stopped)


def _terminate(entries: list[dict], timeout_s: float) -> list[int]:
    procs = []
    for entry in entries:
        proc = _live_process(entry)
        if proc is None:
            continue
        try:
            proc.send_signal(entry.get("stop_signal", signal.SIGTERM))
            procs.append(proc)
        except psutil.NoSuchProcess:
            pass
    alive = _wait_exited(procs, timeout_s)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    _wait_exited(alive, 5)
    return [p.pid for p in procs]


def _exited(proc: psutil.Process) -> bool:
    # A zombie has exited; only its parent (maybe another process) can reap it.
    try:
        if proc.status() == psutil.STATUS_ZOMBIE:
            try:
                proc.wait(timeout=0)  # reaps it when it is our own child
            except (psutil.TimeoutExpired, ChildProcessError):
                pass
            return True
        return not proc.is_running()
    except psutil.NoSuchProcess:
        return True


def _wait_exited(procs: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    alive = list(procs)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if not _exited(p)]
        if alive:
            time.sleep(0.05)
    return alive


def stop_all(workdir: Path, timeout_s: float = 15.0) -> list[int]:
    """Stop every process recorded under `workdir`; returns the pids that were running."""
    d = Path(workdir) / PID_DIR
    if not d.is_dir():
        return []
    files = sorted(d.glob("*.json"))
    entries = []
    for f in files:
        try:
            entries.append(json.loads(f.read_text()))
        except (OSError, ValueError):
            continue
    stopped = _terminate(entries, timeout_s)
    for f in files:
        f.unlink(missing_ok=True)
    return stopped


def wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid):
            return True
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def live_process(workdir: Path, name: str) -> psutil.Process | None:
    """The recorded process `name` when it is still the one that was recorded and alive."""
    path = Path(workdir) / PID_DIR / f"{name}.json"
    return _live_process(json.loads(path.read_text())) if path.exists() else None


def is_running(workdir: Path, name: str) -> bool:
    path = Path(workdir) / PID_DIR / f"{name}.json"
    if not path.exists():
        return False
    return _live_process(json.loads(path.read_text())) is not None


