"""Where the local environment keeps its state, and how others read it.

Everything lives in one working directory (default `.loadline/local/` in the
repository, git-ignored): data directories, logs, pid files, the generated API
key and `state.json`, which `status`, the gate and `down` read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from loadline.profile import REPO_ROOT

DEFAULT_WORKDIR = REPO_ROOT / ".loadline" / "local"
STATE_FILE = "state.json"
API_KEY_FILE = "api-key"


def workdir(path: Path | str | None = None) -> Path:
    return Path(path or os.environ.get("LOADLINE_LOCAL_DIR") or DEFAULT_WORKDIR).resolve()


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
