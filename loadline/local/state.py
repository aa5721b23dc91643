"""Where the local environment keeps its state, and how others read it.

Everything lives in one working directory (default `.loadline/local/` in the
repository, git-ignored): data directories, logs, pid files, the generated API
key and `state.json`, which `status`, the gate and `down` read.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from loadline.profile import REPO_ROOT

DEFAULT_WORKDIR = REPO_ROOT / ".loadline" / "local"
STATE_FILE = "state.json"
API_KEY_FILE = "api-key"


def _others_can_traverse(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents] if p.exists())


def workdir(path: Path | str | None = None) -> Path:
    """`path`, else LOADLINE_LOCAL_DIR, else `.loadline/local` in the repository.

    PostgreSQL runs as the `postgres` user, which must traverse every directory above its
    data. When run as root from a checkout under a private directory (e.g. /root, mode
    0700), the default moves to a fixed directory under /tmp named after the checkout,
    so `up`, `status` and `down` still agree on it.
    """
    if path or os.environ.get("LOADLINE_LOCAL_DIR"):
        return Path(path or os.environ["LOADLINE_LOCAL_DIR"]).resolve()
    if os.geteuid() == 0 and not _others_can_traverse(DEFAULT_WORKDIR.parent.parent):
        digest = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:10]
        return Path("/tmp") / f"loadline-local-{digest}"
    return DEFAULT_WORKDIR


def read_state(wd: Path) -> dict | None:
    path = wd / STATE_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text())


def write_state(wd: Path, state: dict) -> None:
    tmp = wd / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(wd / STATE_FILE)


def read_api_key(wd: Path) -> str | None:
    path = wd / API_KEY_FILE
    return path.read_text().strip() if path.exists() else None


def write_api_key(wd: Path, key: str) -> None:
    path = wd / API_KEY_FILE
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(key + "\n")
