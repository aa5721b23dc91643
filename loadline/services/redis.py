"""A real standalone redis-server in a workdir, on a loopback port.

Redis here is a cache: no RDB snapshots and no AOF, so a stop is instant and
a restart comes back empty, which is what a cache outage looks like.

When we are root, the server runs as the `loadline-svc` system user (uid and gid
>= 10000, as in the cluster) whenever that user can reach the workdir; a workdir
behind a 0700 directory (pytest's tmp_path) keeps the invoking user.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis as redis_sync

from loadline.services import pids, users
from loadline.services.errors import ServiceError, log_tail
from loadline.services.ports import free_port

START_TIMEOUT_S = 20


def redis_server_bin() -> str:
    path = shutil.which("redis-server")
    if not path:
        raise ServiceError("redis: redis-server not found; install redis-server (make setup)")
    return path


@dataclass
class RedisServer:
    """One redis-server process: `.url`, `.stop()`, `.start()`, `.kill()`."""

    workdir: Path
    port: int
    extra_args: list[str] = field(default_factory=list)
    prefix: str = "redis"
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"{self.prefix}-{self.port}"

    @property
    def root(self) -> Path:
        return self.workdir / self.name

    @property
    def log_file(self) -> Path:
        return self.root / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis_sync.Redis:
        return redis_sync.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, socket_connect_timeout=2)

    def _service_user_can_run(self) -> bool:
        """Hand the server's directory to the service user; False when it cannot reach it."""
        if not users.needed():
            return False
        for path in (self.root, *self.root.iterdir()):
            users.give(path)
        try:
            users.check_reachable(self.root, "redis")
        except ServiceError:
            return False
        return True

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        ids = users.popen_ids() if self._service_user_can_run() else {}
        argv = [redis_server_bin(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.root), "--logfile", str(self.log_file), "--daemonize", "no",
                "--save", "", "--appendonly", "no", "--protected-mode", "yes", *self.extra_args]
        # Its own session: a Ctrl-C in the terminal reaches us, and we stop it in order.
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True, **ids)
        pids.record(self.workdir, self.name, self.proc.pid, signal.SIGTERM)
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        assert self.proc is not None, "_wait_ready runs after the server was started"
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pids.forget(self.workdir, self.name)
                raise ServiceError(f"redis: server on 127.0.0.1:{self.port} exited with {self.proc.returncode}"
                                   f"\n  log tail ({self.log_file}):\n{log_tail(self.log_file)}")
            try:
                with self.client() as c:
                    # Our own process must answer, not whatever else holds the port.
                    if c.info("server").get("process_id") == self.proc.pid:
                        return
                    last = "another process answers on this port"
            except redis_sync.RedisError as exc:
                last = str(exc)
            time.sleep(0.05)
        self.stop()
        raise ServiceError(f"redis: 127.0.0.1:{self.port} not ready after {timeout_s:g} s ({last})"
                           f"\n  log tail ({self.log_file}):\n{log_tail(self.log_file)}")

    def stop(self, timeout_s: float = 10) -> None:
        pids.stop_recorded(self.workdir, self.name, timeout_s)
        self._reap()

    def kill(self) -> None:
        """SIGKILL, as a crash or a lost node would look."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        self._reap()
        pids.forget(self.workdir, self.name)

    def _reap(self) -> None:
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def start_redis(workdir: Path, port: int | None = None) -> RedisServer:
    """Start a standalone redis-server on 127.0.0.1 (a free port unless given)."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    server = RedisServer(workdir=workdir, port=port or free_port())
    server.start()
    return server
