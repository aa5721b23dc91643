"""The gate's verdict as a table on the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loadline.gate.alerts import FiredAlert
from loadline.gate.verdict import Verdict


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def server_line(verdict: Verdict) -> str:
    """The server's own view of the run, one line, to read beside the client's table."""
    sv = verdict.server
    assert sv is not None
    if not sv.available:
        return f"no evidence: {sv.reason}"
    hit = "-" if sv.cache_hit_ratio is None else f"{sv.cache_hit_ratio:.3f}"
    target = "" if sv.cache_hit_ratio_target is None else f" (target >= {sv.cache_hit_ratio_target:g})"
    alerts = ", ".join(a.alertname for a in sv.alerts_fired) or "none"
    pool = "-" if sv.pool_saturation_max is None else f"{sv.pool_saturation_max:.0%}"
    return (f"p95 {_num(sv.p95_ms, ' ms')}, p99 {_num(sv.p99_ms, ' ms')}, 5xx ratio "
            f"{_num(sv.error_5xx_ratio)}, cache hit ratio {hit}{target}, PostgreSQL pool peak {pool}, "
            f"alerts fired: {alerts}")


def print_baseline(console: Console, verdict: Verdict) -> None:
    b = verdict.baseline
    assert b is not None
    table = Table(title=f"against the baseline of {b.saved_at} (beyond {b.max_regression_percent:g}% "
                        f"and Mann-Whitney U p < {b.alpha:g})")
    for col in ("metric", "baseline", "this run", "change", "p", "regressed"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for r in b.rows:
        change = "-" if r.change_percent is None else f"{r.change_percent:+g}%"
        p = "-" if r.p_value is None else f"{r.p_value:.2g}"
        table.add_row(r.metric, f"{r.baseline:g}", f"{r.current:g}", change, p,
                      "[bold red]yes[/]" if r.regressed else "no")
    console.print(table)


def load_line(verdict: Verdict) -> str:
    """Offered next to achieved, one line (the terminal's and the Markdown's)."""
    lo = verdict.load
    assert lo is not None
    procs = f"{lo.workers} workers" if lo.workers else "1 process"
    if lo.model == "open":
        return (f"offered {lo.offered_rps:g} rps (target {lo.target_rps:g}), achieved "
                f"{lo.achieved_rps:g} rps; {lo.users} users at {lo.per_user_rps:g} rps each, "
                f"{lo.late_ratio:.1%} late; {procs}")
    return f"closed model, {lo.users} users, achieved {lo.achieved_rps:g} rps; {procs}"


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
    if verdict.load is not None:
        console.print(f"load: {load_line(verdict)}")
    if verdict.server is not None:
        if verdict.server.per_route:
            server = verdict.server
            span = (f"{server.window_end - server.window_start:.0f} s judged"
                    if server.window_start is not None and server.window_end is not None else "the run")
            routes = Table(title=f"the server's view (Prometheus, {span})")
            for col in ("route", "requests", "5xx", "p95 ms", "p99 ms"):
                routes.add_column(col, justify="left" if col == "route" else "right")
            for name, r in sorted(verdict.server.per_route.items()):
                routes.add_row(escape(name), f"{r.requests:g}", f"{r.http_5xx:g}", _num(r.p95_ms), _num(r.p99_ms))
            console.print(routes)
        console.print(f"server: {escape(server_line(verdict))}")
    if verdict.baseline is not None:
        print_baseline(console, verdict)
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
