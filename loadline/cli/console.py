"""Terminal output shared by the commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def wide_console() -> Console:
    """A terminal console; when output is captured (CI logs), wide enough for the table."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=120)


def terminal_console() -> Console:
    """A console sized to the terminal, as rich detects it."""
    from rich.console import Console

    return Console()
