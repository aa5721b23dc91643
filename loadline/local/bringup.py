"""Bring the local environment up with a progress display: what `loadline local up` and the demo share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from loadline.local import env
from loadline.local.progress import steps
from loadline.local.prometheus import PrometheusConfigError
from loadline.profile import Profile


def bring_up(profile: Profile, stack: str, wd: Path, console: Console) -> dict[str, Any]:
    """Start STACK's topology in WD; raises LocalError with a clear message."""
    with steps(console, f"local up ({stack})") as step:
        try:
            return env.up(profile, stack, wd, step)
        except PrometheusConfigError as exc:
            raise env.LocalError(str(exc)) from None
