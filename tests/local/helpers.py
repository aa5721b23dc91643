"""Finding every process that belongs to a local environment's working directory, and asking
its Prometheus."""

import time
from pathlib import Path

import psutil
import requests


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


def query(prom_url: str, expr: str) -> list:
    resp = requests.get(f"{prom_url}/api/v1/query", params={"query": expr}, timeout=5)
    resp.raise_for_status()
    return resp.json()["data"]["result"]


def eventually(prom_url: str, expr: str, timeout_s: float = 30) -> list:
    """The query's result once it is non-empty (a few scrape intervals), else []."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := query(prom_url, expr):
            return result
        time.sleep(0.5)
    return []


def redis_down_alert(rule_groups: list) -> str:
    """The expression of the alert that says Redis is down, as rendered."""
    return next(r["expr"] for g in rule_groups for r in g["rules"] if r.get("alert") == "LoadlineRedisDown")
