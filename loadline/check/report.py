"""Human and JSON output of a check: violations grouped by resource, each with its fix."""

from __future__ import annotations

import json
from collections import OrderedDict

from loadline.check import CheckResult
from policies.guardrails import STACK, Finding


def _grouped(findings: list[Finding]) -> OrderedDict[str, list[Finding]]:
    groups: OrderedDict[str, list[Finding]] = OrderedDict()
    # Resources in name order, the stack-wide findings last.
    for f in sorted(findings, key=lambda f: (f.resource == STACK, f.resource)):
        groups.setdefault(f.resource, []).append(f)
    return groups


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def summary_line(result: CheckResult) -> str:
    verdict = "FAIL" if result.exit_code else "PASS"
    return (f"summary: {verdict}: {_plural(len(result.mandatory), 'mandatory violation')}, "
            f"{_plural(len(result.advisory), 'advisory violation')}, {len(result.exempted)} exempted "
            f"across {_plural(result.objects, 'object')} ({result.source}, environment "
            f"{result.environment}, enforcement {result.level.value})")


def render_text(result: CheckResult) -> str:
    lines = [f"loadline check: {result.source} (environment {result.environment}, "
             f"enforcement {result.level.value}): {_plural(result.objects, 'object')}"]
    for note in result.notes:
        lines.append(f"note: {note}")
    for resource, findings in _grouped(result.findings).items():
        lines.append("")
        lines.append(resource)
        for f in findings:
            if f.exempted:
                lines.append(f"  EXEMPTED   {f.policy}: {f.message}")
                lines.append(f"             reason: {f.exempt_reason}")
            else:
                tag = "MANDATORY" if f.level.value == "mandatory" else "advisory "
                lines.append(f"  {tag}  {f.policy}: {f.message}")
                lines.append(f"             fix: {f.hint}")
    lines.append("")
    lines.append(summary_line(result))
    return "\n".join(lines)


def render_json(result: CheckResult) -> str:
    return json.dumps({
        "source": result.source,
        "environment": result.environment,
        "enforcement": result.level.value,
        "objects": result.objects,
        "exitCode": result.exit_code,
        "counts": {"mandatory": len(result.mandatory), "advisory": len(result.advisory),
                   "exempted": len(result.exempted)},
        "notes": result.notes,
        "findings": [f.as_dict() for f in result.findings],
    }, indent=2)
