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
    table_html,
    table_markdown,
)
from loadline.gate.verdict import BaselineResult, BaselineRow, Verdict
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


RESULT = BaselineResult(path="b.json", saved_at="2026-11-30T10:00:00+00:00", alpha=0.01, max_regression_percent=20,
                        rows=[BaselineRow(metric="p95_ms", baseline=20, current=30.5, change_percent=52.5,
                                          p_value=0.000123, regressed=True),
                              BaselineRow(metric="rps", baseline=100, current=100, change_percent=None,
                                          p_value=None, regressed=False)],
                        failures=[])


def test_the_markdown_table_row_by_row():
    assert table_markdown(RESULT) == [
        "Against the baseline of 2026-11-30T10:00:00+00:00 (regression: beyond 20% and Mann-Whitney U p < 0.01):",
        "",
        "| metric | baseline | this run | change | p | regressed |",
        "|---|---:|---:|---:|---:|---|",
        "| p95_ms | 20 | 30.5 | +52.5% | 0.00012 | **yes** |",
        "| rps | 100 | 100 | - | - | no |",
    ]


def test_the_html_table_row_by_row():
    assert table_html(RESULT) == (
        '<section id="loadline-baseline"><h2>Against the baseline of 2026-11-30T10:00:00+00:00</h2>'
        "<p>Regression: beyond 20% and Mann-Whitney U p &lt; 0.01.</p>"
        "<table><tr><th>metric</th><th>baseline</th><th>this run</th><th>change</th><th>p</th>"
        "<th>regressed</th></tr>"
        "<tr><td>p95_ms</td><td>20</td><td>30.5</td><td>+52.5%</td><td>0.00012</td><td>yes</td></tr>"
        "<tr><td>rps</td><td>100</td><td>100</td><td>-</td><td>-</td><td>no</td></tr>"
        "</table></section>")


def test_the_html_report_gains_the_table_before_its_last_body_end(tmp_path):
    report = tmp_path / "report.html"
    report.write_text("<html><body>a</body><body>b</body></html>")
    add_to_html_report(report, RESULT)
    assert report.read_text() == "<html><body>a</body><body>b" + table_html(RESULT) + "</body></html>"
    bare = tmp_path / "bare.html"
    bare.write_text("<p>no body end</p>")
    add_to_html_report(bare, RESULT)
    assert bare.read_text() == "<p>no body end</p>" + table_html(RESULT)
    add_to_html_report(tmp_path / "missing.html", RESULT)
    assert not (tmp_path / "missing.html").exists()


@pytest.mark.parametrize("body", [
    "not json", "[]", json.dumps({"saved_at": "x", "verdict": {"measured": {"p95_ms": "fast", "rps": 1}},
                                  "samples": {"latency_ms": {}, "per_second": []}}),
    json.dumps({"saved_at": "x", "verdict": {"measured": {"p95_ms": 1, "rps": 1}},
                "samples": {"latency_ms": {}}})])
def test_a_file_that_is_not_a_baseline_is_named_with_the_reason(tmp_path, body):
    bad = tmp_path / "bad.json"
    bad.write_text(body)
    with pytest.raises(BaselineError, match=rf"^--baseline: {bad} is not a baseline file \((JSONDecodeError|TypeError|ValueError|KeyError): "):
        read(bad)
    with pytest.raises(BaselineError, match="is not a baseline file"):
        read(tmp_path / "absent.json")


def test_a_baseline_file_is_read_field_by_field(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"saved_at": "2026-11-30T10:00:00+00:00",
                                "verdict": {"measured": {"p95_ms": 12, "rps": "40.5"}},
                                "samples": {"latency_ms": {"5": 3, "7.5": "2"}, "per_second": ["40", 41]}}))
    assert read(path) == Baseline(path=path, saved_at="2026-11-30T10:00:00+00:00", p95_ms=12.0, rps=40.5,
                                  samples=Samples(latency_ms={5.0: 3, 7.5: 2}, per_second=[40, 41]))


def test_no_baseline_throughput_or_too_few_samples_leave_the_change_or_p_unknown():
    b = Baseline(path="b.json", saved_at="t", p95_ms=0.0, rps=0.0,
                 samples=Samples(latency_ms={5.0: 1}, per_second=[10]))
    result = compare(b, p95_ms=50.0, rps=10.0, samples=Samples({5.0: 1, 6.0: 1}, [10, 10]),
                     max_regression_percent=20)
    assert [(r.metric, r.change_percent, r.p_value, r.regressed) for r in result.rows] == [
        ("p95_ms", None, None, False), ("rps", None, None, False)]


def test_the_change_is_rounded_to_two_decimals_and_signed():
    b = base()
    result = compare(b, p95_ms=b.p95_ms * 1.123456, rps=b.rps * 0.5, samples=b.samples, max_regression_percent=20)
    assert [r.change_percent for r in result.rows] == [12.35, -50.0]
    assert result.alpha == ALPHA and result.max_regression_percent == 20 and result.path == "b.json"


def test_each_regression_sentence_carries_the_figures_of_its_row():
    b = base(rps=100)
    slower = samples(15.0, 3000, rps=60, seed=2)
    p95 = float(np.percentile(slower.latencies(), 95))
    result = compare(b, p95_ms=p95, rps=60, samples=slower, max_regression_percent=20)
    latency, throughput = result.rows
    assert latency.regressed and throughput.regressed and latency.p_value < 1e-6 and throughput.p_value < 1e-6
    assert result.failures == [
        f"regression: p95 {p95:g} ms is {latency.change_percent:g}% above the baseline's {b.p95_ms:g} ms "
        f"(limit 20%; Mann-Whitney U p={latency.p_value:.2g} < 0.01)",
        f"regression: throughput 60 rps is 40% below the baseline's 100 rps "
        f"(limit 20%; Mann-Whitney U p={throughput.p_value:.2g} < 0.01)"]


def test_a_change_exactly_at_the_limit_is_no_regression():
    b = base()
    result = compare(b, p95_ms=b.p95_ms * 1.2, rps=80.0, samples=samples(30.0, 3000, rps=40, seed=2),
                     max_regression_percent=20)
    assert [r.change_percent for r in result.rows] == [20.0, -20.0]
    assert [r.regressed for r in result.rows] == [False, False] and result.failures == []


def test_a_significance_level_can_be_asked_for():
    b = base()
    slower = samples(10.6, 3000, seed=2)
    p95 = b.p95_ms * 1.5
    strict = compare(b, p95_ms=p95, rps=100, samples=slower, max_regression_percent=20, alpha=1e-300)
    assert not strict.rows[0].regressed and strict.alpha == 1e-300
    assert compare(b, p95_ms=p95, rps=100, samples=slower, max_regression_percent=20).rows[0].regressed


def test_two_samples_on_each_side_are_enough_for_a_p_value_and_it_is_one_sided():
    from scipy.stats import mannwhitneyu

    b = Baseline(path="b.json", saved_at="t", p95_ms=1.0, rps=10.0,
                 samples=Samples(latency_ms={5.0: 1, 6.0: 1}, per_second=[10, 11]))
    now = Samples(latency_ms={7.0: 1, 8.0: 1}, per_second=[9, 8])
    result = compare(b, p95_ms=8.0, rps=8.5, samples=now, max_regression_percent=20)
    latency, throughput = result.rows
    assert latency.change_percent == 700.0  # a baseline of exactly 1 still has a change
    assert latency.p_value == float(mannwhitneyu([7.0, 8.0], [5.0, 6.0], alternative="greater").pvalue)
    assert throughput.p_value == float(mannwhitneyu([9, 8], [10, 11], alternative="less").pvalue)
    assert latency.p_value < 0.5 and throughput.p_value < 0.5  # a two-sided test would double them


def test_a_p_value_exactly_at_alpha_is_not_significant():
    b = base(rps=100)
    slower = samples(15.0, 3000, rps=60, seed=2)
    p95 = float(np.percentile(slower.latencies(), 95))
    first = compare(b, p95_ms=p95, rps=60, samples=slower, max_regression_percent=20)
    for i, row in enumerate(first.rows):
        at_alpha = compare(b, p95_ms=p95, rps=60, samples=slower, max_regression_percent=20, alpha=row.p_value)
        assert not at_alpha.rows[i].regressed


def test_a_significant_throughput_drop_within_the_limit_is_no_regression():
    b = base(rps=100)
    result = compare(b, p95_ms=b.p95_ms, rps=90, samples=samples(10.0, 3000, rps=90, seed=2),
                     max_regression_percent=20)
    assert result.rows[1].p_value < ALPHA and result.rows[1].change_percent == -10.0
    assert not result.rows[1].regressed and result.failures == []


def test_a_report_that_is_only_a_body_end_gains_the_table_before_it(tmp_path):
    report = tmp_path / "report.html"
    report.write_text("</body>")
    add_to_html_report(report, RESULT)
    assert report.read_text() == table_html(RESULT) + "</body>"
