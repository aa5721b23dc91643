"""Baselines on synthetic samples: a significant regression fails, noise and small samples do not."""

import json

import numpy as np
import pytest

from loadline.gate.baseline import (
    ALPHA,
    Baseline,
    BaselineError,
    Samples,
    add_to_html_report,
    compare,
    read,
    resolve,
    save,
    table_markdown,
)
from loadline.gate.verdict import Verdict
from tests.gate.test_markdown import VERDICT


def samples(center_ms: float, n: int, rps: int = 100, seconds: int = 30, seed: int = 1) -> Samples:
    rng = np.random.default_rng(seed)
    values = np.round(rng.gamma(4.0, center_ms / 4.0, n))
    keys, counts = np.unique(values, return_counts=True)
    per_second = list(rng.poisson(rps, seconds))
    return Samples(latency_ms=dict(zip(keys.tolist(), counts.tolist(), strict=True)), per_second=per_second)


def base(center_ms=10.0, n=3000, rps=100, **kw) -> Baseline:
    s = samples(center_ms, n, rps, **kw)
    return Baseline(path="b.json", saved_at="2026-11-30T10:00:00+00:00",
                    p95_ms=float(np.percentile(s.latencies(), 95)), rps=float(rps), samples=s)


def run(b: Baseline, s: Samples, rps: float) -> list[str]:
    p95 = float(np.percentile(s.latencies(), 95))
    return compare(b, p95_ms=p95, rps=rps, samples=s, max_regression_percent=20).failures


def test_the_same_distribution_is_no_regression():
    assert run(base(seed=1), samples(10.0, 3000, seed=2), 100) == []


def test_a_significantly_slower_run_regresses_and_says_why():
    failures = run(base(), samples(15.0, 3000, seed=2), 100)
    assert len(failures) == 1 and failures[0].startswith("regression: p95")
    assert "Mann-Whitney U p=" in failures[0] and f"< {ALPHA:g}" in failures[0]


def test_a_large_change_on_few_samples_is_not_significant():
    b = base(n=4, seconds=4)
    few = Samples(latency_ms={30.0: 2, 31.0: 2}, per_second=[100, 100])
    result = compare(b, p95_ms=31.0, rps=100, samples=few, max_regression_percent=20)
    assert result.rows[0].change_percent > 20 and not result.rows[0].regressed
    assert result.failures == []


def test_a_significant_change_within_the_limit_is_no_regression():
    assert run(base(), samples(11.0, 3000, seed=2), 100) == []  # ~10 % slower, limit 20 %


def test_a_significant_throughput_drop_regresses():
    failures = run(base(rps=100), samples(10.0, 3000, rps=60, seed=2), 60)
    assert len(failures) == 1 and failures[0].startswith("regression: throughput 60 rps is 40% below")


def test_save_resolve_last_and_read_back(tmp_path):
    verdict = Verdict.model_validate({**VERDICT, "passed": True, "failures": []})
    s = Samples.from_stats({"response_times": {"5": 10, "7": 3}, "reqs_per_sec": {"100": 5, "101": 50, "102": 52, "103": 9}})
    assert s.per_second == [50, 52]  # the partial first and last seconds are dropped
    path = save(verdict, s, tmp_path)
    assert resolve("last", "pr-7", tmp_path) == path
    back = read(path)
    assert back.p95_ms == 320 and back.rps == 42.0 and back.samples == s


def test_a_failed_run_is_never_a_baseline(tmp_path):
    with pytest.raises(BaselineError, match="only a passed run"):
        save(Verdict.model_validate(VERDICT), Samples({}, []), tmp_path)


def test_missing_or_broken_baselines_are_named(tmp_path):
    with pytest.raises(BaselineError, match="no baseline saved for stack local"):
        resolve("last", "local", tmp_path)
    with pytest.raises(BaselineError, match="is not a file"):
        resolve(str(tmp_path / "nope.json"), "local", tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"verdict": {}}))
    with pytest.raises(BaselineError, match="is not a baseline file"):
        read(bad)


def test_the_table_reaches_markdown_and_the_html_report(tmp_path):
    result = compare(base(), p95_ms=30.0, rps=100, samples=samples(15.0, 3000, seed=2), max_regression_percent=20)
    md = "\n".join(table_markdown(result))
    assert "| metric | baseline | this run | change | p | regressed |" in md and "**yes**" in md
    report = tmp_path / "report.html"
    report.write_text("<html><body><h1>Locust</h1></body></html>")
    add_to_html_report(report, result)
    html = report.read_text()
    assert html.index('id="loadline-baseline"') < html.index("</body>") and "<td>p95_ms</td>" in html


def test_a_saved_baseline_holds_the_verdict_as_published_and_a_utc_time(tmp_path):
    verdict = Verdict.model_validate({**VERDICT, "passed": True, "failures": []})
    s = Samples(latency_ms={5.0: 10, 7.5: 3}, per_second=[50, 52])
    root = tmp_path / "not" / "yet"  # created on the first save
    first = save(verdict, s, root)
    second = save(verdict, s, root)  # the stack's directory exists by now
    assert first.parent == second.parent == root / "pr-7" and first != second
    assert sorted(p.name for p in first.parent.iterdir()) == sorted([first.name, second.name])
    assert first.name.startswith("baseline-") and first.name.endswith("Z.json")
    body = json.loads(first.read_text())
    assert body["verdict"] == json.loads(verdict.to_json())  # by alias, as verdict.json has it
    assert body["saved_at"].endswith("+00:00")
    assert body["samples"] == {"latency_ms": {"5": 10, "7.5": 3}, "per_second": [50, 52]}


def test_a_failed_run_says_why_it_is_not_a_baseline(tmp_path):
    with pytest.raises(BaselineError) as err:
        save(Verdict.model_validate(VERDICT), Samples({}, []), tmp_path)
    assert str(err.value) == "--save-baseline: this run failed; only a passed run becomes a baseline"
    assert list(tmp_path.iterdir()) == []


def test_samples_from_stats_keep_the_inner_seconds_only():
    def per_second(n):
        return Samples.from_stats({"reqs_per_sec": {str(100 + i): 10 + i for i in range(n)}}).per_second

    assert per_second(2) == [] and per_second(3) == [11] and per_second(4) == [11, 12]
    s = Samples.from_stats({"response_times": {"5": 10, "7.5": 3}})
    assert s.latency_ms == {5.0: 10, 7.5: 3} and s.per_second == []
    assert Samples.from_stats({}) == Samples(latency_ms={}, per_second=[])
    # Seconds arrive as JSON keys, unordered: the edges are the earliest and latest.
    assert Samples.from_stats({"reqs_per_sec": {"103": 1, "100": 2, "102": 30, "101": 40}}).per_second == [40, 30]
