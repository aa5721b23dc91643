"""The gate's verdict as a table on the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loadline.gate.verdict import Verdict


def print_summary(console: Console, verdict: Verdict) -> None:
    table = Table(title=f"load gate: {verdict.stack} @ {verdict.host}")
    for col in ("endpoint", "requests", "failures", "p50 ms", "p95 ms", "p99 ms", "rps"):
        table.add_column(col, justify="left" if col == "endpoint" else "right",
                         overflow="fold", no_wrap=col != "endpoint")
    for name, e in sorted(verdict.per_endpoint.items()):
        table.add_row(escape(name), str(e.requests), str(e.failures), f"{e.p50_ms:g}",
                      f"{e.p95_ms:g}", f"{e.p99_ms:g}", f"{e.rps:.1f}")
    m = verdict.measured
    table.add_row("[bold]overall[/]", str(m.requests), str(m.failures), f"{m.p50_ms:g}",
                  f"{m.p95_ms:g}", f"{m.p99_ms:g}", f"{m.rps:.1f}")
    console.print(table)
    t = verdict.targets
    p99 = f", p99 <= {t.p99_ms:g} ms" if t.p99_ms is not None else ""
    console.print(f"targets: p95 <= {t.p95_ms:g} ms{p99}, rps >= {t.min_rps:g}, "
                  f"error ratio <= {t.max_error_ratio:g}")
    if verdict.passed:
        console.print("[bold green]PASSED[/]: every target met")
    else:
        console.print("[bold red]FAILED[/]:")
        for f in verdict.failures:
            console.print(f"  - {escape(f)}")
