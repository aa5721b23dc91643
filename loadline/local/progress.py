"""`up`'s progress on the terminal: one line per finished step, a spinner on the current one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console


@contextmanager
def steps(console: Console, title: str) -> Iterator:
    current: dict = {}
    with console.status(title) as status:
        def step(name: str) -> None:
            _finish()
            current.update(name=name, t=time.monotonic())
            status.update(f"{title}: {name} ...")

        def _finish() -> None:
            if current:
                console.print(f"  [green]✓[/] {current['name']} ({time.monotonic() - current['t']:.1f} s)")
                current.clear()

        try:
            yield step
            _finish()
        except BaseException:
            if current:
                console.print(f"  [red]✗[/] {current['name']}")
            raise
