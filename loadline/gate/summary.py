"""The gate's verdict as a table on the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loadline.gate.alerts import FiredAlert
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
    if verdict.fault is not None:
        print_fault(console, verdict)
    if verdict.alerts is not None:
        console.print(escape(alerts_line(verdict)))
    if verdict.passed:
        console.print("[bold green]PASSED[/]: every target met")
    else:
        console.print("[bold red]FAILED[/]:")
        for f in verdict.failures:
            console.print(f"  - {escape(f)}")


def alerts_line(verdict: Verdict) -> str:
    """One entry per alert name (an alert per Redis node is one outage): first start, how many, resolved."""
    alerts = verdict.alerts
    assert alerts is not None
    if not alerts.fired:
        return "alerts fired during the run: none"
    by_name: dict[str, list[FiredAlert]] = {}
    for a in alerts.fired:
        by_name.setdefault(a.alertname, []).append(a)
    parts = []
    for name, fired in by_name.items():
        count = f" x{len(fired)}" if len(fired) > 1 else ""
        resolved = ", resolved" if all(a.status == "resolved" for a in fired) else ""
        parts.append(f"{name} ({fired[0].severity or '-'}){count} at {fired[0].starts_s:g} s{resolved}")
    return "alerts fired during the run: " + ", ".join(parts)


def print_fault(console: Console, verdict: Verdict) -> None:
    fault = verdict.fault
    assert fault is not None
    table = Table(title="faults")
    for col in ("fault", "target", "at s", "during: req / fail / 5xx", "after: req / fail / 5xx", "recovery s"):
        table.add_column(col, justify="left" if col in ("fault", "target") else "right", overflow="fold")
    for f in fault.injected:
        d, a = f.during, f.after
        table.add_row(escape(f.spec), escape(f.target), f"{f.started_s:g}-{f.ended_s:g}",
                      f"{d.requests} / {d.failures} / {d.http_5xx}", f"{a.requests} / {a.failures} / {a.http_5xx}",
                      "never" if f.recovery_seconds is None else f"{f.recovery_seconds:g}")
    console.print(table)
    t = fault.targets
    console.print(f"acknowledged writes: {fault.writes.acknowledged}, lost: {fault.writes.lost} "
                  f"(read back from {fault.writes.checked_in}); fault targets: error ratio <= "
                  f"{t.max_error_ratio:g}, recovery <= {t.max_recovery_seconds:g} s, 0 lost writes")
