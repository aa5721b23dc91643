"""A promtool test file's own rule file: the rules it tests and the recording rules they read.

`promtool test rules` evaluates every rule of every file in `rule_files` at every
evaluation step of every test group, whether a test looks at it or not. A burn-rate test
file checks two alerts, yet the rendered rule file holds every SLO alert, every window's
ratio and the 30-day budget; evaluating all of it was most of a render's CPU.

A rule can only change what an alert does through the series it records, so cutting the
rule file to the tested alerts and, transitively, the recording rules whose names they
select changes no verdict. Each rule stays in its group, in its order, with its group's
settings. Where that cannot be shown from the expressions (a selector without a literal
metric name, `ALERTS`, an expression promql-parser refuses, or a `promql_expr_test` that
may read any recorded series), the test file keeps its whole rule files.
"""

from __future__ import annotations

import copy
from typing import Any

from loadline.render.queries import QueryError, metric_names

# Series Prometheus writes for alerting rules: reading them depends on every alert.
_ALERT_SERIES = {"ALERTS", "ALERTS_FOR_STATE"}


def alerts_checked(tests: dict[str, Any]) -> set[str] | None:
    """Alert names the test file checks; None when it also runs PromQL tests."""
    names: set[str] = set()
    for group in tests.get("tests") or []:
        if group.get("promql_expr_test"):
            return None
        names.update(str(case["alertname"]) for case in group.get("alert_rule_test") or [])
    return names


def cut_rules(rule_files: list[dict[str, Any]], alerts: set[str]) -> list[dict[str, Any]] | None:
    """Each of RULE_FILES cut to ALERTS and the recording rules they read (in any of the files);
    None when the cut is not provably safe.

    An alert that no file defines is left for promtool to report (an expected alert that
    never fires fails its test), so it does not widen the cut."""
    all_groups = [group for rules in rule_files for group in rules.get("groups") or []]
    all_rules = [rule for group in all_groups for rule in group.get("rules") or []]
    recorders: dict[str, list[dict[str, Any]]] = {}
    for rule in all_rules:
        if "record" in rule:
            recorders.setdefault(str(rule["record"]), []).append(rule)
    keep: set[int] = set()
    pending = [rule for rule in all_rules if rule.get("alert") in alerts]
    while pending:
        rule = pending.pop()
        if id(rule) in keep:
            continue
        keep.add(id(rule))
        try:
            read = metric_names(str(rule.get("expr", "")))
        except QueryError:
            return None
        if read & _ALERT_SERIES:
            return None
        for name in read:
            pending.extend(recorders.get(name, []))
    cut = []
    for rules in rule_files:
        groups = []
        for group in rules.get("groups") or []:
            kept = [rule for rule in group.get("rules") or [] if id(rule) in keep]
            if kept:
                groups.append({**{k: v for k, v in group.items() if k != "rules"}, "rules": kept})
        cut.append({"groups": copy.deepcopy(groups)})
    return cut


def narrow(test_name: str, tests: dict[str, Any],
           rule_files: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(test file, extra rule files by name) for TEST_NAME, reading its own cut of RULE_FILES.

    RULE_FILES: name -> content of the rule files the test file may list. The test file is
    returned unchanged, with no extra file, when a rule file it lists is unknown or the
    rules cannot be cut safely."""
    alerts = alerts_checked(tests)
    listed = [str(name) for name in tests.get("rule_files") or []]
    if alerts is None or not listed or any(name not in rule_files for name in listed):
        return tests, {}
    cut = cut_rules([rule_files[name] for name in listed], alerts)
    if cut is None:
        return tests, {}
    stem = test_name.removesuffix(".yml")
    extra = {f"{stem}.rules{i or ''}.yml": rules for i, rules in enumerate(cut)}
    return {**tests, "rule_files": list(extra)}, extra
