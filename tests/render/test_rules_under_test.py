"""Each promtool test file reads only the rules it tests, and still fails when one of them is broken."""

from __future__ import annotations

import pytest

from components.monitoring.config import alert_rules
from loadline.profile import load_profile
from loadline.render.burn_rate_tests import burn_rate_tests
from loadline.render.rule_tests import rule_tests
from loadline.render.rules_under_test import cut_rules, split
from loadline.render.validate import validate_prometheus
from tests.fixtures.renders import rendered


def names(rules: dict) -> list[tuple[str, list[str]]]:
    return [(g["name"], [r.get("alert") or r["record"] for r in g["rules"]]) for g in rules["groups"]]


def test_a_burn_rate_file_reads_its_alerts_and_the_ratios_they_read():
    profile = load_profile("prod")
    tests = burn_rate_tests(profile)["burn_rate_6h_test.yml"]
    parts, cuts = split("burn_rate_6h_test.yml", tests, {"rules.yml": alert_rules(profile)})
    # Every case checks the same two alerts: one part, under the file's own name.
    assert list(parts) == ["burn_rate_6h_test.yml"] and list(cuts) == ["burn_rate_6h_test.rules.yml"]
    assert parts["burn_rate_6h_test.yml"] == {**tests, "rule_files": ["burn_rate_6h_test.rules.yml"]}
    # In the group's own order: the ratios are recorded before the alerts read them.
    assert names(cuts["burn_rate_6h_test.rules.yml"]) == [("loadline-slo-burn", [
        "loadline:api_errors:ratio_rate30m", "loadline:api_errors:ratio_rate6h",
        "loadline:api_slow_requests:ratio_rate30m", "loadline:api_slow_requests:ratio_rate6h",
        "LoadlineApiAvailabilityBudgetBurn6h", "LoadlineApiLatencyBudgetBurn6h"])]


def test_each_threshold_alert_is_tested_beside_itself_alone():
    profile = load_profile("prod")
    tests = rule_tests(profile)
    parts, cuts = split("rules_test.yml", tests, {"rules.yml": alert_rules(profile)})
    alerts = {case["alertname"] for group in tests["tests"] for case in group["alert_rule_test"]}
    assert len(alerts) > 1 and set(parts) == {f"rules_test.{alert}.yml" for alert in alerts}
    for alert in alerts:
        part = parts[f"rules_test.{alert}.yml"]
        assert part["rule_files"] == [f"rules_test.{alert}.rules.yml"]
        assert part["tests"] == [g for g in tests["tests"] if g["alert_rule_test"][0]["alertname"] == alert]
        assert [name for _, rules in names(cuts[f"rules_test.{alert}.rules.yml"]) for name in rules] == [alert]
    assert sum(len(p["tests"]) for p in parts.values()) == len(tests["tests"])


def _rule(expr: str, *, alert: str | None = None, record: str | None = None) -> dict:
    return {"alert": alert, "expr": expr} if alert else {"record": record, "expr": expr}


def test_recording_rules_are_followed_across_groups_and_files():
    base = {"groups": [{"name": "base", "interval": "30s", "rules": [
        _rule("sum(rate(x_total[5m]))", record="x:rate5m"),
        _rule("sum(rate(y_total[5m]))", record="y:rate5m"),
    ]}]}
    derived = {"groups": [{"name": "derived", "rules": [
        _rule("x:rate5m * 2", record="x:double"),
        _rule("x:double > 1", alert="XHigh"),
        _rule("y:rate5m > 1", alert="YHigh"),
    ]}]}
    cut = cut_rules([base, derived], {"XHigh"})
    assert cut is not None
    assert [names(c) for c in cut] == [[("base", ["x:rate5m"])], [("derived", ["x:double", "XHigh"])]]
    assert cut[0]["groups"][0]["interval"] == "30s"
    # The cut is a copy: the rendered rules stay as they were.
    assert len(base["groups"][0]["rules"]) == 2


@pytest.mark.parametrize("expr", ["ALERTS{alertname=\"YHigh\"} == 1", '{__name__=~"x.*"} > 1', "sum(("])
def test_an_alert_whose_reads_cannot_be_listed_keeps_every_rule(expr):
    rules = {"groups": [{"name": "g", "rules": [_rule("y > 1", alert="YHigh"), _rule(expr, alert="XHigh")]}]}
    tests = {"rule_files": ["rules.yml"], "tests": [{"alert_rule_test": [{"alertname": "XHigh", "eval_time": "1m"}]}]}
    assert split("t_test.yml", tests, {"rules.yml": rules}) == ({"t_test.yml": tests}, {})


def test_a_file_that_queries_series_or_reads_an_unknown_rule_file_keeps_every_rule():
    rules = {"groups": [{"name": "g", "rules": [_rule("y > 1", alert="YHigh"), _rule("x > 1", alert="XHigh")]}]}
    promql = {"rule_files": ["rules.yml"], "tests": [
        {"alert_rule_test": [{"alertname": "XHigh", "eval_time": "1m"}],
         "promql_expr_test": [{"expr": "y", "eval_time": "1m", "exp_samples": []}]}]}
    assert split("t_test.yml", promql, {"rules.yml": rules}) == ({"t_test.yml": promql}, {})
    other = {"rule_files": ["other.yml"], "tests": [{"alert_rule_test": [{"alertname": "XHigh", "eval_time": "1m"}]}]}
    assert split("t_test.yml", other, {"rules.yml": rules}) == ({"t_test.yml": other}, {})


def _replace_expr(rules: dict, name: str, change) -> None:
    rule = next(r for g in rules["groups"] for r in g["rules"] if name in (r.get("alert"), r.get("record")))
    rule["expr"] = change(rule["expr"])


@pytest.mark.parametrize("name, change", [
    # Without its long window, the 6h latency alert fires on a spike.
    ("LoadlineApiLatencyBudgetBurn6h", lambda e: e.split(" and ")[1]),
    # A ratio the 1d availability alert reads, at half its value: the burn goes unseen.
    ("loadline:api_errors:ratio_rate1d", lambda e: f"({e}) / 2"),
])
def test_a_broken_burn_rate_rule_still_fails_the_render(name, change):
    result = rendered("dev")
    window = "6h" if name.endswith("6h") else "1d"
    _replace_expr(result.alert_rules, name, change)
    problems = validate_prometheus(result)
    assert [p.where for p in problems] == [f"prometheus/burn_rate_{window}_test.yml"]
    assert "FAILED" in problems[0].message


def test_a_broken_threshold_alert_still_fails_the_render():
    result = rendered("dev")
    _replace_expr(result.alert_rules, "LoadlineApiErrorRatioHigh", lambda e: e.replace("[5m]", "[5m] offset 1h"))
    problems = validate_prometheus(result)
    assert [p.where for p in problems] == ["prometheus/rules_test.yml"]
