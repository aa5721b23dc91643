"""Burn-rate alerts: thresholds from the profile, and promtool tests that catch broken rules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from component_helpers import make_profile

from components.monitoring.config import alert_rules
from components.monitoring.slo_burn import BURN_WINDOWS, LATENCY_BUCKETS, fast_requests
from loadline.render.burn_rate_tests import burn_rate_tests


def rules_by_name(rules):
    return {r.get("alert") or r["record"] + str(r.get("labels", "")): r for g in rules["groups"] for r in g["rules"]}


def run_promtool(tmp_path: Path, rules: dict, tests: dict[str, dict]) -> subprocess.CompletedProcess:
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    for name, content in tests.items():
        (tmp_path / name).write_text(yaml.safe_dump(content))
    return subprocess.run(["promtool", "test", "rules", *sorted(tests)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


def test_the_workbook_pairs_with_thresholds_from_the_profile():
    alerts = rules_by_name(alert_rules(make_profile("prod")))  # availability 0.999, p95 100 ms
    expected = {"1h": ("5m", 14.4, "page"), "6h": ("30m", 6, "page"),
                "1d": ("2h", 3, "ticket"), "3d": ("6h", 1, "ticket")}
    for long, (short, factor, severity) in expected.items():
        for name, budget in (("Availability", 0.001), ("Latency", 0.05)):
            rule = alerts[f"LoadlineApi{name}BudgetBurn{long}"]
            assert rule["labels"]["severity"] == severity
            assert (rule["labels"]["long_window"], rule["labels"]["short_window"]) == (long, short)
            record = "loadline:api_errors" if name == "Availability" else "loadline:api_slow_requests"
            limit = f"{factor * budget:.10g}"
            assert rule["expr"] == (f"{record}:ratio_rate{long} > {limit} and {record}:ratio_rate{short} > {limit}")
    changed = rules_by_name(alert_rules(make_profile("prod", {"slo": {"availability": 0.99}})))
    assert changed["LoadlineApiAvailabilityBudgetBurn1h"]["expr"].endswith("> 0.144")


def test_every_window_an_alert_reads_is_recorded():
    rules = alert_rules(make_profile("staging"))
    records = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    for w in BURN_WINDOWS:
        for stem in ("loadline:api_errors", "loadline:api_slow_requests"):
            assert {f"{stem}:ratio_rate{w.long}", f"{stem}:ratio_rate{w.short}"} <= records
    budget = [r for g in rules["groups"] for r in g["rules"] if r.get("record") == "loadline:slo_error_budget:remaining_ratio"]
    assert sorted(r["labels"]["slo"] for r in budget) == ["availability", "p95_ms"]
    assert all("/ 0.005" in r["expr"] or "/ 0.05" in r["expr"] for r in budget)  # staging: 0.995


def test_latency_threshold_between_buckets_is_interpolated():
    # 150 ms lies a third of the way from the 100 ms bucket to the 250 ms one.
    expr = fast_requests(0.15, "1h")
    assert 'le="0.1"' in expr and 'le="0.25"' in expr and "* 0.3333333333" in expr
    assert fast_requests(0.1, "1h").count("le=") == 1
    assert 'le="5.0"' in fast_requests(30, "1h")


def test_latency_buckets_match_the_service():
    from app.metrics import BUCKETS
    assert LATENCY_BUCKETS == BUCKETS


def test_interpolated_latency_sli_on_real_promql(tmp_path):
    # Requests all between the 100 ms and 250 ms buckets: a third count as fast (150 ms).
    profile = make_profile("local", {"slo": {"p95Ms": 150, "p99Ms": None}})
    sel = 'job="loadline-api",route="/v1/events",method="GET",status="200"'
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": f'http_request_duration_seconds_bucket{{{sel},le="0.1"}}', "values": "0x70"},
            {"series": f'http_request_duration_seconds_bucket{{{sel},le="0.25"}}', "values": "0+300x70"},
            {"series": f'http_request_duration_seconds_bucket{{{sel},le="+Inf"}}', "values": "0+300x70"},
            {"series": f"http_request_duration_seconds_count{{{sel}}}", "values": "0+300x70"},
        ],
        "promql_expr_test": [{"expr": "round(loadline:api_slow_requests:ratio_rate1h, 0.0001)", "eval_time": "65m",
                              "exp_samples": [{"labels": "{}", "value": 0.6667}]}],
    }]}
    done = run_promtool(tmp_path, alert_rules(profile), {"interp_test.yml": test})
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_burn_rate_tests_pass(tmp_path):
    # Every shipped stack runs them in its render (tests/render); this is the baseline
    # the broken rules below are measured against.
    profile = make_profile("prod")
    done = run_promtool(tmp_path, alert_rules(profile), burn_rate_tests(profile))
    assert done.returncode == 0, done.stdout + done.stderr


def _mutate(rules: dict, alert: str, change) -> dict:
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                rule["expr"] = change(rule["expr"])
    return rules


@pytest.mark.parametrize("case, make_rules, failing", [
    # A laxer availability objective (10x the budget): every burning case must miss its page.
    ("lax availability", lambda: alert_rules(make_profile("prod", {"slo": {"availability": 0.99}})),
     "LoadlineApiAvailabilityBudgetBurn1h"),
    # Without the long window a short spike pages.
    ("no long window", lambda: _mutate(alert_rules(make_profile("prod")), "LoadlineApiLatencyBudgetBurn6h",
                                       lambda e: e.split(" and ")[1]), "LoadlineApiLatencyBudgetBurn6h"),
    # Without the short window a burn that has ended keeps paging.
    ("no short window", lambda: _mutate(alert_rules(make_profile("prod")), "LoadlineApiAvailabilityBudgetBurn1d",
                                        lambda e: e.split(" and ")[0]), "LoadlineApiAvailabilityBudgetBurn1d"),
    # A threshold 30% too high misses a burn between it and the next pair.
    ("threshold too high", lambda: _mutate(alert_rules(make_profile("prod")), "LoadlineApiLatencyBudgetBurn3d",
                                           lambda e: e.replace("> 0.05", "> 0.065")), "LoadlineApiLatencyBudgetBurn3d"),
    # A threshold 30% too low fires below it.
    ("threshold too low", lambda: _mutate(alert_rules(make_profile("prod")), "LoadlineApiAvailabilityBudgetBurn6h",
                                          lambda e: e.replace("> 0.006", "> 0.0042")), "LoadlineApiAvailabilityBudgetBurn6h"),
])
def test_generated_burn_rate_tests_catch_broken_rules(tmp_path, case, make_rules, failing):
    window = failing.rsplit("BudgetBurn", 1)[1]
    tests = burn_rate_tests(make_profile("prod"))
    done = run_promtool(tmp_path, make_rules(), {f"burn_rate_{window}_test.yml": tests[f"burn_rate_{window}_test.yml"]})
    assert done.returncode != 0, case
    assert failing in done.stdout + done.stderr, case
