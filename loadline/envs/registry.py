"""What loadline knows about each review environment, one JSON file per env.

The state directory (`.loadline/envs/`, git-ignored) is local bookkeeping: Pulumi's backend
holds the real resources. An entry is written *before* `pulumi up` starts with
`finished: false`, so an up that is interrupted leaves a record that `env down` and `env gc`
can still find.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from loadline.envs.errors import EnvError
from loadline.envs.names import validate_name
from loadline.profile import REPO_ROOT


def state_root() -> Path:
    """`.loadline/` in the repo; LOADLINE_STATE_DIR moves it (tests, CI caches)."""
    return Path(os.environ.get("LOADLINE_STATE_DIR") or REPO_ROOT / ".loadline")

Verdict = Literal["pass", "missed", "error"]


class EnvRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    from_stack: str
    owner: str
    created: datetime
    expires: datetime
    backend: str
    secrets_provider: str = "passphrase"
    finished: bool = False
    api_url: str | None = None
    last_verdict: Verdict | None = None
    verdict_at: datetime | None = None
    report_dir: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires <= now

    def state(self, now: datetime) -> str:
        if not self.finished:
            return "interrupted"
        return "expired" if self.expired(now) else "ready"


class Registry:
    def __init__(self, state_dir: Path | None = None):
        self.state_dir = state_dir or state_root() / "envs"

    def _path(self, name: str) -> Path:
        return self.state_dir / f"{validate_name(name)}.json"

    def get(self, name: str) -> EnvRecord | None:
        path = self._path(name)
        if not path.exists():
            return None
        return self._read(path)

    def _read(self, path: Path) -> EnvRecord:
        try:
            return EnvRecord.model_validate_json(path.read_text())
        except (ValidationError, ValueError) as exc:
            raise EnvError(
                f"env registry file {path} is unreadable ({exc.__class__.__name__}); "
                "fix or delete it") from None

    def save(self, record: EnvRecord) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self._path(record.name)
        fd, tmp = tempfile.mkstemp(dir=self.state_dir, prefix=f".{record.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps(record.model_dump(mode="json"), indent=2) + "\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def claim(self, record: EnvRecord) -> None:
        """Save a new env's first record; EnvError if another `up` of the name got there first."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self._path(record.name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise EnvError(f"env '{record.name}' already exists (created just now by another "
                           "`loadline env up`)") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(record.model_dump(mode="json"), indent=2) + "\n")

    def remove(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def all(self) -> list[EnvRecord]:
        if not self.state_dir.is_dir():
            return []
        return sorted((self._read(p) for p in self.state_dir.glob("*.json")), key=lambda r: r.created)
