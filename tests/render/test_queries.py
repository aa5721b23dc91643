"""Dashboard and rule queries: valid PromQL that reads only series something produces."""

from __future__ import annotations

import copy
import json

import pytest

from components.monitoring import catalog
from components.monitoring.config import alert_rules
from components.monitoring.dashboard import dashboard
from loadline.profile import load_profile
from loadline.render.queries import QueryError, metric_names, panel_queries, query_problems


def config_map(board: dict) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dash", "namespace": "ns"},
            "data": {"loadline.json": json.dumps(board)}}


@pytest.fixture(scope="module")
def prod():
    profile = load_profile("prod")
    return dashboard(profile), alert_rules(profile)


def test_metric_names_come_from_the_parse_tree():
    expr = ('sum by (tier) (rate(cache_requests_total{result="hit"}[5m])) / sum by (tier) '
            '(rate(cache_requests_total[5m])) or on() vector(0) + {__name__="redis_up"}')
    assert metric_names(expr) == {"cache_requests_total", "redis_up"}
    # Label values and legends that look like metric names are not selectors.
    assert metric_names('up{job="redis_up"}') == {"up"}
    assert metric_names("loadline:api_errors:ratio_rate1h / 0.001") == {"loadline:api_errors:ratio_rate1h"}


@pytest.mark.parametrize("expr, reason", [
    ("sum(rate(cache_requests_total[5m])", "not valid PromQL"),
    ("histogram_quantile(0.9, rate(x_bucket[5m])[5m:])", "not valid PromQL"),  # range vector where a vector goes
    ('{__name__=~"cache_.*"}', "without a metric name"),
])
def test_invalid_or_nameless_query_is_refused(expr, reason):
    with pytest.raises(QueryError, match=reason):
        metric_names(expr)


def test_shipped_dashboard_reads_only_produced_series(prod):
    board, rules = prod
    queries = list(panel_queries(board))
    assert len(queries) >= 20
    assert query_problems([config_map(board)], rules) == []
    exprs = " ".join(expr for _, _, expr in queries)
    for wanted in ("loadline:slo_error_budget:remaining_ratio", "sum by (tier)", "redis_breaker_state",
                   "redis_breaker_trips_total", "loadline:api_errors:ratio_rate1h", "loadline:api_slow_requests:ratio_rate3d"):
        assert wanted in exprs


def test_a_misspelt_metric_names_the_panel_and_the_metric(prod):
    board, rules = prod
    broken = copy.deepcopy(board)
    panel = next(p for p in broken["panels"] if p["title"] == "Cache hit ratio by tier")
    panel["targets"][0]["expr"] = panel["targets"][0]["expr"].replace("cache_requests_total", "cache_request_total", 1)
    problems = query_problems([config_map(broken)], rules)
    assert len(problems) == 1
    where, message = problems[0]
    assert where == "ConfigMap/ns/dash loadline.json"
    assert "panel 'Cache hit ratio by tier' query A: reads cache_request_total" in message


def test_a_panel_on_a_recording_rule_needs_the_rule(prod):
    board, rules = prod
    without = copy.deepcopy(rules)
    for group in without["groups"]:
        group["rules"] = [r for r in group["rules"] if r.get("record") != "loadline:slo_error_budget:remaining_ratio"]
    problems = query_problems([config_map(board)], without)
    assert [m.split(":")[0] for _, m in problems] == ["panel 'Error budget left (30d)' query A"]


def test_rules_are_checked_too(prod):
    _, rules = prod
    broken = copy.deepcopy(rules)
    broken["groups"][0]["rules"][0]["expr"] = "histogram_quantile(0.95, sum by (le) (rate(http_request_seconds_bucket[5m]))) > 0.1"
    problems = query_problems([], broken)
    assert problems and problems[0][0] == "prometheus/rules.yml"
    assert "rule LoadlineApiLatencyP95High: reads http_request_seconds_bucket" in problems[0][1]


def test_catalog_lists_every_recording_rule_name_as_produced(prod):
    _, rules = prod
    assert catalog.recorded(rules) <= catalog.produced(rules)
    assert "loadline:api_errors:ratio_rate3d" not in catalog.produced()
