"""A real PostgreSQL server in a workdir, on a loopback port.

PostgreSQL refuses to run as root, so when we are root every server binary
runs as the `loadline-svc` system user (uid and gid >= 10000, as in the cluster;
`loadline.services.users`) and the data directory is owned by it. The unix socket lives inside the workdir, never in
/var/run/postgresql, so several servers (and a system one) never collide.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from loadline.services import pids, users
from loadline.services.errors import ServiceError, log_tail
from loadline.services.ports import free_port

DB_NAME = "loadline"
DB_USER = "loadline"
START_TIMEOUT_S = 60


def pg_bin_dir() -> Path:
    """LOADLINE_PG_BIN, else the newest /usr/lib/postgresql/<version>/bin, else PATH."""
    if os.environ.get("LOADLINE_PG_BIN"):
        return Path(os.environ["LOADLINE_PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ServiceError("postgres: initdb not found; install postgresql (make setup) or set LOADLINE_PG_BIN")


def _run(argv: list[str], what: str, log: Path | None = None, timeout: float = 120) -> str:
    try:
        res = subprocess.run(users.as_service_user(argv), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ServiceError(f"postgres: {what} did not finish within {timeout:g} s"
                           + (f"\n  log tail ({log}):\n{log_tail(log)}" if log else "")) from None
    if res.returncode != 0:
        detail = (res.stderr or res.stdout).strip()
        raise ServiceError(f"postgres: {what} failed (exit {res.returncode}): {detail}"
                           + (f"\n  log tail ({log}):\n{log_tail(log)}" if log else ""))
    return res.stdout


@dataclass
class Postgres:
    """A PostgreSQL server: `.url` for clients, `.stop()`/`.start()` to take it down and back."""

    workdir: Path
    port: int
    password: str
    bin_dir: Path
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"postgres-{self.port}"

    @property
    def root(self) -> Path:
        return self.workdir / self.name

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://{DB_USER}:{self.password}@127.0.0.1:{self.port}/{DB_NAME}"

    @property
    def admin_dsn(self) -> list[str]:
        """psql arguments for the superuser over the private unix socket."""
        return ["-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres"]

    def init(self) -> None:
        for d in (self.root, self.socket_dir):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o755)
            users.give(d)
        users.check_reachable(self.root, "postgres")
        pwfile = self.root / "superuser-password"
        pwfile.write_text(secrets.token_hex(16) + "\n")
        pwfile.chmod(0o600)
        users.give(pwfile)
        _run([str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
              "--pwfile", str(pwfile), "-E", "UTF8", "--locale=C.UTF-8",
              "--auth-local=trust", "--auth-host=scram-sha-256"], "initdb")
        self.start()
        sql = (f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{self.password}';"
               f"CREATE DATABASE {DB_NAME} OWNER {DB_USER};")
        for stmt in sql.split(";")[:-1]:
            _run([str(self.bin_dir / "psql"), *self.admin_dsn, "-d", "postgres",
                  "-v", "ON_ERROR_STOP=1", "-qc", stmt], "creating the role and database", self.log_file)

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        opts = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
                "-c max_connections=200 -c shared_buffers=64MB")
        try:
            _run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
                  "-o", opts, "-w", "-t", str(int(timeout_s)), "start"],
                 f"starting on 127.0.0.1:{self.port}", self.log_file, timeout=timeout_s + 10)
        finally:
            # Record even after a failed start: a half-started postmaster must still be stoppable.
            pid = self.pid()
            if pid:
                pids.record(self.workdir, self.name, pid, signal.SIGINT)

    def pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, timeout_s: float = 30) -> None:
        """Fast shutdown: open sessions are cut, committed data stays."""
        pid = self.pid()
        pids.stop_recorded(self.workdir, self.name, timeout_s)
        if pid and not pids.wait_gone(pid, timeout_s):
            raise ServiceError(f"postgres: pid {pid} still running after {timeout_s:g} s")

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would; the next start() runs crash recovery."""
        pid = self.pid()
        if pid:
            try:
                children = psutil.Process(pid).children(recursive=True)
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, psutil.NoSuchProcess):
                children = []
            pids.wait_gone(pid, 10)
            # Backends notice the dead postmaster and exit; wait so shared memory is free for a restart.
            psutil.wait_procs(children, timeout=10)
        pids.forget(self.workdir, self.name)

    def psql(self, sql: str) -> str:
        """Run SQL as the superuser in the service database; returns unaligned output."""
        return _run([str(self.bin_dir / "psql"), *self.admin_dsn, "-d", DB_NAME, "-v", "ON_ERROR_STOP=1",
                     "-AXqtc", sql], "psql", self.log_file)


def start_postgres(workdir: Path, port: int | None = None) -> Postgres:
    """initdb a fresh cluster under `workdir`, start it, create a role and database with a password."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    pg = Postgres(workdir=workdir, port=port or free_port(), password=secrets.token_urlsafe(18),
                  bin_dir=pg_bin_dir())
    if pg.data_dir.exists():
        raise ServiceError(f"postgres: {pg.data_dir} already exists; pick another port or workdir")
    try:
        pg.init()
    except BaseException:
        pids.stop_recorded(workdir, pg.name)
        raise
    return pg
