"""Every PromQL query a render ships reads series that something produces.

Dashboard panels and alert or recording rules name metrics; a misspelt or retired name
gives an empty panel or an alert that can never fire, with no error anywhere. Each
query is parsed with promql-parser (a full PromQL parser, type checks included) and
every metric it selects must be in `components.monitoring.catalog` or recorded by the
rendered rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import promql_parser

from components.monitoring import catalog


class QueryError(ValueError):
    """The expression is not valid PromQL, or selects series without a literal metric name."""


def metric_names(expr: str) -> set[str]:
    """The metric names `expr` selects."""
    try:
        tree = promql_parser.parse(expr)
    except ValueError as exc:
        raise QueryError(f"not valid PromQL ({exc})") from None
    names: set[str] = set()
    anonymous: list[str] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name or next((m.value for m in node.matchers.matchers
                                      if m.name == "__name__" and m.op == promql_parser.MatchOp.Equal), None)
            if name:
                names.add(name)
            else:
                anonymous.append(str(node))
        return True

    promql_parser.walk(tree, visit)
    if anonymous:
        raise QueryError(f"selects series without a metric name: {', '.join(anonymous)}")
    return names


def panel_queries(board: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(panel title, refId, expr) for every Prometheus query, rows' nested panels included."""
    for panel in board.get("panels") or []:
        yield from panel_queries(panel)
        for target in panel.get("targets") or []:
            if target.get("expr"):
                yield panel.get("title", "?"), target.get("refId", "?"), target["expr"]


def dashboards(manifests: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, dashboard) for every Grafana dashboard a ConfigMap carries."""
    for manifest in manifests:
        if manifest.get("kind") != "ConfigMap":
            continue
        meta = manifest.get("metadata") or {}
        for key, text in (manifest.get("data") or {}).items():
            if key.endswith(".json"):
                board = json.loads(text)
                if isinstance(board, dict) and "panels" in board:
                    yield f"ConfigMap/{meta.get('namespace', '')}/{meta.get('name', '?')} {key}", board


def rule_queries(rules: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for group in rules.get("groups") or []:
        for rule in group.get("rules") or []:
            yield rule.get("alert") or rule.get("record") or "?", rule.get("expr", "")


def _check(expr: str, rules: dict[str, Any]) -> str | None:
    try:
        missing = catalog.unknown(metric_names(expr), rules)
    except QueryError as exc:
        return str(exc)
    if missing:
        return (f"reads {', '.join(missing)}, which neither the service, an exporter, Prometheus "
                "nor a recording rule produces (components/monitoring/catalog.py)")
    return None


def query_problems(manifests: list[dict[str, Any]], rules: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(where, message) for every dashboard or rule query that is invalid or reads an unknown metric."""
    rules = rules or {}
    problems = []
    for where, board in dashboards(manifests):
        for title, ref, expr in panel_queries(board):
            if message := _check(expr, rules):
                problems.append((where, f"panel '{title}' query {ref}: {message}: {expr}"))
    for name, expr in rule_queries(rules):
        if message := _check(expr, rules):
            problems.append(("prometheus/rules.yml", f"rule {name}: {message}: {expr}"))
    return problems
