"""Processes `loadline local` starts itself (the API, Prometheus), tracked by pid file.

Each runs in its own session, so stopping its process group also stops every
worker it forked. The pid file records the command line, so a pid reused by an
unrelated process after a reboot is never signalled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

# Not "pids": loadline.services keeps its own pid files there, in another format.
PIDS_DIR = "local-pids"


def _pidfile(wd: Path, name: str) -> Path:
    return wd / PIDS_DIR / f"{name}.json"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def spawn(wd: Path, name: str, cmd: list[str], *, env: dict[str, str], log: Path,
          cwd: Path | None = None) -> int:
    (wd / PIDS_DIR).mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
    _pidfile(wd, name).write_text(json.dumps({"pid": proc.pid, "cmdline": " ".join(cmd)}))
    return proc.pid


def alive(wd: Path, name: str) -> bool:
    path = _pidfile(wd, name)
    if not path.exists():
        return False
    rec = json.loads(path.read_text())
    return _is_ours(rec)


def _is_ours(rec: dict) -> bool:
    cmd = _cmdline(rec["pid"])
    return bool(cmd) and cmd == rec["cmdline"] and not _zombie(rec["pid"])


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Only zombies left (our own unreaped children) count as gone.
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text().split(") ", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(stat[2]) == pgid and stat[0] != "Z":
                return True
    return False


def stop(wd: Path, name: str, *, timeout_s: float = 15.0) -> bool:
    """Stop `name` and its whole process group; True when something was running."""
    path = _pidfile(wd, name)
    if not path.exists():
        return False
    rec = json.loads(path.read_text())
    pgid = rec["pid"]
    running = _is_ours(rec) or _group_alive(pgid)
    if running:
        for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(pgid):
                time.sleep(0.1)
            if not _group_alive(pgid):
                break
    path.unlink(missing_ok=True)
    return running


def names(wd: Path) -> list[str]:
    d = wd / PIDS_DIR
    return sorted(p.stem for p in d.glob("*.json")) if d.exists() else []
