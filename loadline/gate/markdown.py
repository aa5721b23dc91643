"""A verdict as Markdown, for a CI job summary or a pull-request comment.

`python -m loadline.gate.markdown reports/.../verdict.json` prints it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from loadline.gate.baseline import table_markdown
from loadline.gate.summary import alerts_line, load_line, server_line
from loadline.gate.verdict import Verdict


def verdict_markdown(verdict: Verdict) -> str:
    t, m = verdict.targets, verdict.measured
    head = "✅ passed: every target met" if verdict.passed else "❌ failed: a target was missed"
    p99_target = f" / p99 ≤ {t.p99_ms:g} ms" if t.p99_ms is not None else ""
    lines = [
        f"### Load gate `{verdict.stack}`: {head}",
        "",
        f"Targets: p95 ≤ {t.p95_ms:g} ms{p99_target}, throughput ≥ {t.min_rps:g} rps, "
        f"error ratio ≤ {t.max_error_ratio:g}",
        *([f"Load: {load_line(verdict)}"] if verdict.load is not None else []),
        *([f"Server (Prometheus): {server_line(verdict)}"] if verdict.server is not None else []),
        *(["", *table_markdown(verdict.baseline)] if verdict.baseline is not None else []),
        "",
        "| endpoint | requests | failures | p50 ms | p95 ms | p99 ms | rps |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in sorted(verdict.per_endpoint.items()):
        lines.append(f"| `{name}` | {e.requests} | {e.failures} | {e.p50_ms:g} | "
                     f"{e.p95_ms:g} | {e.p99_ms:g} | {e.rps:.1f} |")
    lines.append(f"| **overall** | {m.requests} | {m.failures} | {m.p50_ms:g} | "
                 f"{m.p95_ms:g} | {m.p99_ms:g} | {m.rps:.1f} |")
    if verdict.fault is not None:
        lines += fault_markdown(verdict)
    if verdict.alerts is not None:
        lines += ["", alerts_line(verdict) + "."]
    if verdict.failures:
        lines += ["", "Failures:", *[f"- {f}" for f in verdict.failures]]
    return "\n".join(lines) + "\n"


def fault_markdown(verdict: Verdict) -> list[str]:
    fault = verdict.fault
    assert fault is not None
    lines = ["", "| fault | target | injected (s) | during: requests / failures / 5xx | after | recovery s |",
             "|---|---|---:|---:|---:|---:|"]
    for f in fault.injected:
        d, a = f.during, f.after
        recovery = "never" if f.recovery_seconds is None else f"{f.recovery_seconds:g}"
        lines.append(f"| `{f.spec}` | {f.target} | {f.started_s:g}–{f.ended_s:g} | "
                     f"{d.requests} / {d.failures} / {d.http_5xx} | {a.requests} / {a.failures} / {a.http_5xx} | "
                     f"{recovery} |")
    lines += ["", f"Acknowledged writes: {fault.writes.acknowledged}, lost: {fault.writes.lost}."]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m loadline.gate.markdown VERDICT_JSON", file=sys.stderr)
        return 2
    try:
        verdict = Verdict.read(Path(args[0]))
    except (OSError, ValueError) as exc:
        print(f"error: {args[0]}: not a readable verdict ({exc})", file=sys.stderr)
        return 2
    sys.stdout.write(verdict_markdown(verdict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
