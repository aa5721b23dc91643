"""Terminal output shared by the commands."""

from __future__ import annotations

from rich.console import Console


def wide_console() -> Console:
    """A terminal console; when output is captured (CI logs), wide enough for the table."""
    console = Console()
    return console if console.is_terminal else Console(width=120)
