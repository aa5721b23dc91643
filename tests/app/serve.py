"""`python -m app serve` as a real child process on the session's PostgreSQL and Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from loadline.services import free_port
from tests.app.conftest import API_KEY

READY_TIMEOUT_S = 60


@dataclass(frozen=True)
class Served:
    proc: subprocess.Popen
    base: str
    log: Path


@contextmanager
def serve(database_url: str, redis_url: str, tmp: Path, *, workers: int = 1,
          ready_path: str = "/readyz", **env: str) -> Iterator[Served]:
    """The production server until the block ends (SIGTERM, then SIGKILL after 30 s).

    ENV: further variables (EVENTS_*, PROMETHEUS_MULTIPROC_DIR) over the defaults.
    """
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EVENTS_")}
    environ.update(EVENTS_ENVIRONMENT="development", EVENTS_DATABASE_URL=database_url, EVENTS_REDIS_URL=redis_url,
                   EVENTS_API_KEYS=API_KEY, EVENTS_HOST="127.0.0.1", EVENTS_PORT=str(port),
                   EVENTS_WORKERS=str(workers), **env)
    log_path = tmp / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=environ, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(proc, f"{base}{ready_path}", log_path)
        yield Served(proc, base, log_path)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the service did not become ready at {url}:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)
