"""Baselines: a run kept with its samples, and the regression test of a later run against it.

A baseline file holds a passed verdict and the run's samples: every request's latency
(Locust's complete histogram, ms -> requests) and the requests of every second. A later
run regresses when its p95 rose, or its throughput fell, by more than
`slo.maxRegressionPercent` **and** a one-sided Mann-Whitney U test (scipy) says the
difference is significant at ALPHA: noise must not fail a merge, and a large but
insignificant change on few samples is not called a regression either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from loadline.gate.verdict import BaselineResult, BaselineRow, Verdict

# One chance in a hundred that noise alone shows a difference this large.
ALPHA = 0.01
# Seconds at each end of a run are partial (spawn, stop): not throughput samples.
EDGE_SECONDS = 1


class BaselineError(Exception):
    """No usable baseline; the gate cannot compare (exit 2). The message says why."""


@dataclass(frozen=True)
class Samples:
    latency_ms: dict[float, int]  # ms -> requests
    per_second: list[int]  # requests in each full second

    @classmethod
    def from_stats(cls, raw: dict[str, Any]) -> Samples:
        latency = {float(k): int(v) for k, v in raw.get("response_times", {}).items()}
        seconds = sorted((int(k), int(v)) for k, v in raw.get("reqs_per_sec", {}).items())
        inner = seconds[EDGE_SECONDS:-EDGE_SECONDS] if len(seconds) > 2 * EDGE_SECONDS else []
        return cls(latency_ms=latency, per_second=[n for _, n in inner])

    def latencies(self) -> np.ndarray:
        keys = np.fromiter(self.latency_ms.keys(), dtype=float)
        counts = np.fromiter(self.latency_ms.values(), dtype=np.int64)
        return np.repeat(keys, counts)

    def as_json(self) -> dict[str, Any]:
        return {"latency_ms": {f"{k:g}": v for k, v in sorted(self.latency_ms.items())},
                "per_second": self.per_second}


def directory(root: Path, stack: str) -> Path:
    return root / stack


def save(verdict: Verdict, samples: Samples, root: Path) -> Path:
    """Keep a passed run as the stack's newest baseline; returns its path."""
    if not verdict.passed:
        raise BaselineError("--save-baseline: this run failed; only a passed run becomes a baseline")
    now = datetime.now(UTC)
    path = directory(root, verdict.stack) / f"baseline-{now:%Y%m%dT%H%M%S%fZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"saved_at": now.isoformat(), "verdict": verdict.model_dump(mode="json", by_alias=True),
            "samples": samples.as_json()}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body) + "\n")
    tmp.replace(path)
    return path


def resolve(spec: str, stack: str, root: Path) -> Path:
    """`last` (the stack's newest baseline) or a path."""
    if spec == "last":
        found = sorted(directory(root, stack).glob("baseline-*.json"))
        if not found:
            raise BaselineError(f"--baseline last: no baseline saved for stack {stack} in "
                                f"{directory(root, stack)} (save one with --save-baseline)")
        return found[-1]
    path = Path(spec)
    if not path.is_file():
        raise BaselineError(f"--baseline: {spec} is not a file (give a path or `last`)")
    return path


@dataclass(frozen=True)
class Baseline:
    path: Path
    saved_at: str
    p95_ms: float
    rps: float
    samples: Samples


def read(path: Path) -> Baseline:
    try:
        body = json.loads(path.read_text())
        measured = body["verdict"]["measured"]
        samples = body["samples"]
        return Baseline(path=path, saved_at=body["saved_at"], p95_ms=float(measured["p95_ms"]),
                        rps=float(measured["rps"]),
                        samples=Samples(latency_ms={float(k): int(v) for k, v in samples["latency_ms"].items()},
                                        per_second=[int(n) for n in samples["per_second"]]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BaselineError(f"--baseline: {path} is not a baseline file ({type(exc).__name__}: {exc})") from None


def _p_value(current: np.ndarray, before: np.ndarray, alternative: str) -> float | None:
    if len(current) < 2 or len(before) < 2:
        return None
    # scipy.stats takes about a second to import: only a run that compares pays for it, not
    # every `loadline loadtest` (nor one refused for a bad option).
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(current, before, alternative=alternative).pvalue)


def _change(current: float, before: float) -> float | None:
    return None if before == 0 else round((current - before) / before * 100, 2)


def compare(base: Baseline, *, p95_ms: float, rps: float, samples: Samples,
            max_regression_percent: float, alpha: float = ALPHA) -> BaselineResult:
    """The before/after table and the regressions it shows."""
    rows, failures = [], []
    # p95: worse when higher; the test asks whether this run's latencies are stochastically larger.
    change = _change(p95_ms, base.p95_ms)
    p = _p_value(samples.latencies(), base.samples.latencies(), "greater")
    regressed = change is not None and change > max_regression_percent and p is not None and p < alpha
    rows.append(BaselineRow(metric="p95_ms", baseline=base.p95_ms, current=p95_ms, change_percent=change,
                            p_value=p, regressed=regressed))
    if regressed:
        failures.append(f"regression: p95 {p95_ms:g} ms is {change:g}% above the baseline's {base.p95_ms:g} ms "
                        f"(limit {max_regression_percent:g}%; Mann-Whitney U p={p:.2g} < {alpha:g})")
    # Throughput: worse when lower; per-second request counts, one-sided the other way.
    change = _change(rps, base.rps)
    p = _p_value(np.array(samples.per_second), np.array(base.samples.per_second), "less")
    regressed = change is not None and -change > max_regression_percent and p is not None and p < alpha
    rows.append(BaselineRow(metric="rps", baseline=base.rps, current=rps, change_percent=change,
                            p_value=p, regressed=regressed))
    if regressed and change is not None:
        failures.append(f"regression: throughput {rps:g} rps is {-change:g}% below the baseline's {base.rps:g} rps "
                        f"(limit {max_regression_percent:g}%; Mann-Whitney U p={p:.2g} < {alpha:g})")
    return BaselineResult(path=str(base.path), saved_at=base.saved_at, alpha=alpha,
                          max_regression_percent=max_regression_percent, rows=rows, failures=failures)


def table_markdown(result: BaselineResult) -> list[str]:
    lines = [f"Against the baseline of {result.saved_at} (regression: beyond {result.max_regression_percent:g}% "
             f"and Mann-Whitney U p < {result.alpha:g}):", "",
             "| metric | baseline | this run | change | p | regressed |", "|---|---:|---:|---:|---:|---|"]
    for r in result.rows:
        lines.append(f"| {r.metric} | {r.baseline:g} | {r.current:g} | {_pct(r.change_percent)} | "
                     f"{_p(r.p_value)} | {'**yes**' if r.regressed else 'no'} |")
    return lines


def table_html(result: BaselineResult) -> str:
    rows = "".join(f"<tr><td>{r.metric}</td><td>{r.baseline:g}</td><td>{r.current:g}</td>"
                   f"<td>{_pct(r.change_percent)}</td><td>{_p(r.p_value)}</td>"
                   f"<td>{'yes' if r.regressed else 'no'}</td></tr>" for r in result.rows)
    return (f'<section id="loadline-baseline"><h2>Against the baseline of {result.saved_at}</h2>'
            f"<p>Regression: beyond {result.max_regression_percent:g}% and Mann-Whitney U p &lt; {result.alpha:g}.</p>"
            "<table><tr><th>metric</th><th>baseline</th><th>this run</th><th>change</th><th>p</th>"
            f"<th>regressed</th></tr>{rows}</table></section>")


def add_to_html_report(report: Path, result: BaselineResult) -> None:
    """Locust's report.html gains the before/after table (before `</body>`)."""
    if not report.is_file():
        return
    text = report.read_text()
    marker = "</body>"
    cut = text.rfind(marker)
    section = table_html(result)
    report.write_text(text[:cut] + section + text[cut:] if cut >= 0 else text + section)


def _pct(change: float | None) -> str:
    return "-" if change is None else f"{change:+g}%"


def _p(p: float | None) -> str:
    return "-" if p is None else f"{p:.2g}"
