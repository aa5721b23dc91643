"""The one error the launchers raise."""

from pathlib import Path


class ServiceError(RuntimeError):
    """A service could not be started or stopped. The message names it and ends with its log tail."""


def log_tail(path: Path | str, lines: int = 25) -> str:
    """The last lines of a server log, for error messages."""
    try:
        text = Path(path).read_text(errors="replace").splitlines()[-lines:]
    except OSError as exc:
        return f"(no log at {path}: {exc.strerror})"
    return "\n".join(f"    {line}" for line in text) or "    (log is empty)"
