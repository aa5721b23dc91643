"""Finding every process that belongs to a local environment's working directory."""

from pathlib import Path

import psutil


def processes_of(wd: Path) -> list[psutil.Process]:
    """Live processes whose command line, cwd or environment names `wd`."""
    token = str(wd)
    out = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            text = " ".join(proc.cmdline()) + " " + proc.cwd() + " " + " ".join(proc.environ().values())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if token in text:
            out.append(proc)
    return out
