"""The system user the local servers run as when we are root: `loadline-svc`, uid and gid >= 10000.

PostgreSQL refuses to run as root, and neither server should: in the cluster every
container runs with ids of 10000 or above, and locally the same servers run under such
ids too. `make setup` creates the user (scripts/create-service-user.sh). Without root
the servers simply run as the invoking user.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path
from typing import Any

from loadline.services.errors import ServiceError

SERVICE_USER = "loadline-svc"
MIN_ID = 10000


def needed() -> bool:
    """True when we are root, so the servers must switch to the service user."""
    return os.geteuid() == 0


def account() -> pwd.struct_passwd:
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise ServiceError(f"the system user {SERVICE_USER} does not exist; run `make setup` "
                           "(scripts/create-service-user.sh creates it)") from None
    if entry.pw_uid < MIN_ID or entry.pw_gid < MIN_ID:
        raise ServiceError(f"the system user {SERVICE_USER} has uid {entry.pw_uid} gid {entry.pw_gid}; "
                           f"both must be >= {MIN_ID} (userdel {SERVICE_USER}, then `make setup`)")
    return entry


def as_service_user(argv: list[str]) -> list[str]:
    """`argv` run as the service user when we are root (for commands that daemonize, like pg_ctl)."""
    return ["runuser", "-u", account().pw_name, "--", *argv] if needed() else argv


def popen_ids() -> dict[str, Any]:
    """Popen keyword arguments that start a child directly as the service user when we are root,
    so the pid we record is the server's own (runuser would sit in between)."""
    if not needed():
        return {}
    entry = account()
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def give(path: Path) -> None:
    """Hand `path` to the service user (when we are root)."""
    if needed():
        entry = account()
        os.chown(path, entry.pw_uid, entry.pw_gid)


def check_reachable(path: Path, what: str) -> None:
    """The service user must be able to write `path`: every ancestor needs o+x when we are root."""
    if not needed():
        return
    res = subprocess.run(as_service_user(["test", "-w", str(path)]), capture_output=True)
    if res.returncode != 0:
        blocked = [str(p) for p in [path, *path.parents] if p.exists() and not (p.stat().st_mode & 0o001)]
        raise ServiceError(
            f"{what}: the {SERVICE_USER} user cannot write {path}; "
            f"directories without o+x on the way: {', '.join(blocked) or '(none: check ownership)'}; "
            "use a workdir under /tmp or the repository with mode 0755")
