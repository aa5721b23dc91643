"""A promtool test file run as parts that each read only the rules they test.

`promtool test rules` evaluates every rule of every file in `rule_files` at every
evaluation step of every test group, whether a test looks at it or not. A burn-rate test
file checks two alerts, yet the rendered rule file holds every SLO alert, every window's
ratio and the 30-day budget; evaluating all of it was most of a render's CPU.

A rule can only change what an alert does through the series it records, so cutting the
rule file to the tested alerts and, transitively, the recording rules whose names they
select changes no verdict. Each rule stays in its group, in its order, with its group's
settings. The test groups of a file are split by the alerts they check (rules_test.yml
checks each threshold alert on its own), so each group evaluates only its own rules.
Where the cut cannot be shown safe from the expressions (a selector without a literal
metric name, `ALERTS`, an expression promql-parser refuses, or a `promql_expr_test` that
may read any recorded series), the test file runs whole, with its whole rule files.
"""

from __future__ import annotations

import copy
from typing import Any

from loadline.render.queries import QueryError, metric_names

# Series Prometheus writes for alerting rules: reading them depends on every alert.
_ALERT_SERIES = {"ALERTS", "ALERTS_FOR_STATE"}


def alerts_checked(group: dict[str, Any]) -> frozenset[str] | None:
    """Alert names a test group checks; None when it also runs PromQL tests."""
    if group.get("promql_expr_test"):
        return None
    return frozenset(str(case["alertname"]) for case in group.get("alert_rule_test") or [])


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


def split(test_name: str, tests: dict[str, Any],
          rule_files: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(test files, rule files), each by file name, that together run TEST_NAME: its test
    groups, one test file per set of alerts they check, each reading its own cut of the
    rule files it lists.

    RULE_FILES: name -> content of the rule files the test file may list. A test file that
    lists an unknown rule file, or whose rules cannot be cut safely, comes back whole with
    no rule file of its own. A single part keeps TEST_NAME, so promtool's report names the
    file the user has."""
    whole: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]] = ({test_name: tests}, {})
    listed = [str(name) for name in tests.get("rule_files") or []]
    if not listed or any(name not in rule_files for name in listed):
        return whole
    parts: dict[frozenset[str], list[dict[str, Any]]] = {}
    for group in tests.get("tests") or []:
        alerts = alerts_checked(group)
        if alerts is None:
            return whole
        parts.setdefault(alerts, []).append(group)
    if not parts:
        return whole
    stem = test_name.removesuffix(".yml")
    test_files: dict[str, dict[str, Any]] = {}
    cut_files: dict[str, dict[str, Any]] = {}
    for i, (alerts, groups) in enumerate(parts.items()):
        cut = cut_rules([rule_files[name] for name in listed], set(alerts))
        if cut is None:
            return whole
        label = next(iter(alerts)) if len(alerts) == 1 else str(i)
        name = test_name if len(parts) == 1 else f"{stem}.{label}.yml"
        cut_names = [f"{name.removesuffix('.yml')}.rules{j or ''}.yml" for j in range(len(cut))]
        cut_files.update(zip(cut_names, cut, strict=True))
        test_files[name] = {**tests, "rule_files": cut_names, "tests": groups}
    return test_files, cut_files
