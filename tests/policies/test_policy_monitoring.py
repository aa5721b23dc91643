"""Scraped Services through ServiceMonitors, and the rule files the SLO alert check reads."""

import pytest
import yaml
from policy_builders import NS, deployment, service

from policies.guardrails import Context
from policies.guardrails.monitoring import _monitor_reaches, rule_files, services_scraped, slo_alert_rules

CTX = Context(environment="prod")
METRICS = [{"name": "metrics", "port": 9121, "targetPort": "metrics"}]


def monitor(ns=NS, *, namespace_selector=None, selector=None, endpoints=None, job_label=None):
    spec = {"selector": selector if selector is not None else {"matchLabels": {"app.kubernetes.io/name": "web"}},
            "endpoints": endpoints if endpoints is not None else [{"port": "metrics"}]}
    if namespace_selector is not None:
        spec["namespaceSelector"] = namespace_selector
    if job_label is not None:
        spec["jobLabel"] = job_label
    return {"kind": "ServiceMonitor", "metadata": {"name": "web", "namespace": ns}, "spec": spec}


def scraped(*monitors, svc=None):
    return services_scraped([deployment(), svc or service(ports=METRICS), *monitors], CTX) == []


def test_a_monitor_reaches_services_of_its_own_namespace_by_default():
    assert scraped(monitor())
    assert not scraped(monitor("ops"))


@pytest.mark.parametrize("namespace_selector, reaches", [
    ({"any": True}, True), ({"any": "true"}, False), ({"any": False, "matchNames": [NS]}, True),
    ({"matchNames": ["ops", NS]}, True), ({"matchNames": ["ops"]}, False), ({"matchNames": []}, False)])
def test_a_monitor_elsewhere_reaches_the_namespaces_it_selects(namespace_selector, reaches):
    assert scraped(monitor("ops", namespace_selector=namespace_selector)) is reaches


def test_a_monitor_must_select_the_service_by_its_labels():
    assert not scraped(monitor(selector={"matchLabels": {"app.kubernetes.io/name": "api"}}))
    assert scraped(monitor(selector={}))  # an empty selector selects every Service


@pytest.mark.parametrize("endpoints, reaches", [
    ([{"port": "metrics"}], True), ([{"port": "http"}, {"port": "metrics"}], True), ([{"port": "http"}], False),
    ([{"targetPort": 9121}], True), ([{"targetPort": 0}], True), ([], False), ([{}], False)])
def test_a_monitor_endpoint_names_a_port_of_the_service_or_a_target_port(endpoints, reaches):
    assert scraped(monitor(endpoints=endpoints)) is reaches


def test_only_a_service_monitor_reaches_anything():
    svc = service(ports=METRICS)
    assert _monitor_reaches(monitor(), svc)
    assert not _monitor_reaches({**monitor(), "kind": "PodMonitor"}, svc)


def test_a_declared_job_is_satisfied_by_a_monitor_only_when_it_names_jobs_by_that_label():
    svc = service(job="web", ports=METRICS)
    assert scraped(monitor(job_label="loadline.dev/job"), svc=svc)
    found = services_scraped([deployment(), svc, monitor()], CTX)
    assert [m for _, m in found] == [
        "declares scrape job 'web' but no Prometheus job of that name and no ServiceMonitor reaches it or its pods"]
    assert not scraped(monitor(job_label="app"), svc=svc)


def _rules(*slos, alert=True, expr=True):
    rules = [{**({"alert": f"A{i}"} if alert else {"record": f"r{i}"}), **({"expr": "up == 0"} if expr else {}),
              "labels": {"slo": s}} for i, s in enumerate(slos)]
    return {"groups": [{"name": "g", "rules": rules}]}


def _config_map(**data):
    return {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": NS}, "data": data}


def test_rule_files_come_from_prometheus_rules_config_maps_and_the_render():
    pr = {"kind": "PrometheusRule", "metadata": {"name": "r", "namespace": NS}, "spec": _rules("a")}
    cm = _config_map(**{"rules.yml": yaml.safe_dump(_rules("b")), "prometheus.yml": yaml.safe_dump(_rules("c")),
                        "prometheus.yaml": yaml.safe_dump(_rules("d")), "notes.txt": "just: text",
                        "broken.yml": "groups: [", "list.yml": "[1, 2]", "groups.yml": "groups: none"})
    ctx = Context(alert_rule_files=(_rules("e"), "not a file"))
    assert rule_files([pr, cm, {"kind": "Secret", "data": {"rules.yml": yaml.safe_dump(_rules("f"))}}], ctx) == [
        _rules("e"), _rules("a"), _rules("b")]


def test_only_alerting_rules_with_an_expression_cover_a_target():
    targets = ("p95_ms",)
    assert slo_alert_rules([], Context(slo_targets=targets, alert_rule_files=(_rules("p95_ms"),))) == []
    for rules in (_rules("p95_ms", alert=False), _rules("p95_ms", expr=False)):
        assert slo_alert_rules([], Context(slo_targets=targets, alert_rule_files=(rules,))) == [
            (None, "no alerting rule carries the label slo: p95_ms for the profile's SLO target")]
