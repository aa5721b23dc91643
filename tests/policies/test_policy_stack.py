"""Stack checks: network isolation, scraped Services, SLO alert rules."""

import pytest
import yaml
from policy_builders import NS, allow_web, container, default_deny, deployment, service

from policies.guardrails import Context
from policies.guardrails.monitoring import services_scraped, slo_alert_rules
from policies.guardrails.stack import network_policies

CTX = Context(environment="prod")
TARGETS = ("p95_ms", "min_rps")


def test_network_policy_complete_stack_passes():
    assert network_policies([deployment(), default_deny(), allow_web()], CTX) == []


def test_network_policy_missing_default_deny():
    found = network_policies([deployment(), allow_web()], CTX)
    assert [(o["kind"], m) for o, m in found] == [
        ("Namespace", "holds workloads but no NetworkPolicy denies Ingress and Egress by default "
                      "(podSelector: {} with no rules)")]


def test_network_policy_ingress_only_deny_is_not_enough():
    deny = default_deny()
    deny["spec"]["policyTypes"] = ["Ingress"]
    found = network_policies([deployment(), deny, allow_web()], CTX)
    assert len(found) == 1 and "denies Egress by default" in found[0][1]


def test_network_policy_workload_without_targeted_allow():
    allow_all_dns = {"kind": "NetworkPolicy", "metadata": {"name": "dns", "namespace": NS},
                     "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 53}]}]}}
    found = network_policies([deployment(), default_deny(), allow_all_dns], CTX)
    assert len(found) == 1 and found[0][0]["kind"] == "Deployment"


def test_namespace_without_workloads_needs_nothing():
    assert network_policies([service()], CTX) == []


def _prom_config(*jobs):
    return {"kind": "ConfigMap", "metadata": {"name": "prom", "namespace": NS},
            "data": {"prometheus.yml": yaml.safe_dump({"scrape_configs": list(jobs)})}}


def test_monitored_service_scraped_by_static_target():
    objs = [deployment(), service(job="web"),
            _prom_config({"job_name": "web", "static_configs": [{"targets": [f"web.{NS}.svc.cluster.local:80"]}]})]
    assert services_scraped(objs, CTX) == []


def test_monitored_service_not_scraped():
    found = services_scraped([deployment(), service(job="web"), _prom_config()], CTX)
    assert len(found) == 1 and "declares scrape job 'web'" in found[0][1]


def test_job_name_must_match_declared_job():
    objs = [deployment(), service(job="web"),
            _prom_config({"job_name": "other", "static_configs": [{"targets": ["web:80"]}]})]
    found = services_scraped(objs, CTX)
    assert len(found) == 1 and "reached only by job other" in found[0][1]


def test_scraped_through_headless_service_dns_sd():
    headless = service("web-headless")
    objs = [deployment(), service(job="web"), headless,
            _prom_config({"job_name": "web", "dns_sd_configs": [
                {"names": [f"web-headless.{NS}.svc.cluster.local"], "type": "A", "port": 8000}]})]
    assert services_scraped(objs, CTX) == []


def test_kubernetes_sd_relabel_keep():
    job = {"job_name": "web", "kubernetes_sd_configs": [{"role": "endpoints", "namespaces": {"names": [NS]}}],
           "relabel_configs": [{"source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_name"],
                                "regex": "web", "action": "keep"}]}
    assert services_scraped([deployment(), service(job="web"), _prom_config(job)], CTX) == []
    job["relabel_configs"][0]["regex"] = "api"
    assert len(services_scraped([deployment(), service(job="web"), _prom_config(job)], CTX)) == 1


def test_metrics_port_without_declared_job_needs_any_scrape():
    svc = service(ports=[{"name": "metrics", "port": 9121, "targetPort": "metrics"}])
    assert len(services_scraped([deployment(), svc], CTX)) == 1
    monitor = {"kind": "ServiceMonitor", "metadata": {"name": "web", "namespace": NS},
               "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
                        "endpoints": [{"port": "metrics"}]}}
    assert services_scraped([deployment(), svc, monitor], CTX) == []


def test_plain_service_is_not_monitored():
    assert services_scraped([deployment(), service()], CTX) == []


def _rules(*slo_labels):
    return {"groups": [{"name": "g", "rules": [
        {"alert": f"A{i}", "expr": "up == 0", "labels": {"slo": s}} for i, s in enumerate(slo_labels)]}]}


def test_slo_alert_rules_complete():
    ctx = Context(slo_targets=TARGETS, alert_rule_files=(_rules("p95_ms", "min_rps"),))
    assert slo_alert_rules([], ctx) == []


def test_slo_alert_rules_missing_target():
    ctx = Context(slo_targets=TARGETS, alert_rule_files=(_rules("p95_ms"),))
    assert slo_alert_rules([], ctx) == [
        (None, "no alerting rule carries the label slo: min_rps for the profile's SLO target")]


def test_slo_alert_rules_found_in_prometheus_rule_objects():
    rule = {"kind": "PrometheusRule", "metadata": {"name": "r", "namespace": NS}, "spec": _rules("p95_ms", "min_rps")}
    assert slo_alert_rules([rule], Context(slo_targets=TARGETS)) == []
    cm = {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": NS},
          "data": {"rules.yml": yaml.safe_dump(_rules("p95_ms"))}}
    assert len(slo_alert_rules([cm], Context(slo_targets=TARGETS))) == 1


def test_slo_alert_rules_without_profile_are_not_evaluated():
    assert slo_alert_rules([], Context(slo_targets=None)) == []


def _metrics_deployment():
    return deployment(containers=[container(ports=[{"name": "http", "containerPort": 8000},
                                                   {"name": "metrics", "containerPort": 9121}])])


def test_every_service_of_a_workload_with_a_metrics_port_is_checked():
    client = service("web")  # exposes only http, but fronts pods that expose metrics
    found = services_scraped([_metrics_deployment(), client], CTX)
    assert [(o["metadata"]["name"], "fronts pods that expose metrics" in m) for o, m in found] == [("web", True)]


def test_client_service_counts_as_scraped_when_its_pods_are():
    headless = service("web-headless", ports=[{"name": "metrics", "port": 9121, "targetPort": "metrics"}])
    scrape = _prom_config({"job_name": "web", "static_configs": [
        {"targets": [f"web-0.web-headless.{NS}.svc.cluster.local:9121"]}]})
    assert services_scraped([_metrics_deployment(), service("web"), headless, scrape], CTX) == []


def _np(name, spec, ns=NS):
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def test_policy_types_default_as_the_api_server_does():
    from policies.guardrails.stack import denied_directions
    # No policyTypes: Ingress always, Egress only when egress rules exist.
    assert denied_directions(_np("a", {"podSelector": {}})) == {"Ingress"}
    assert denied_directions(_np("b", {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]})) == {"Ingress"}
    assert denied_directions(_np("c", {"podSelector": {}, "policyTypes": ["Egress"]})) == {"Egress"}
    assert denied_directions(_np("d", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                                       "ingress": [{}]})) == {"Egress"}
    assert denied_directions(_np("e", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})) == {
        "Ingress", "Egress"}


@pytest.mark.parametrize("selector", [{"matchLabels": {"app": "web"}},
                                      {"matchExpressions": [{"key": "app", "operator": "Exists"}]}])
def test_a_policy_that_selects_some_pods_denies_nothing_by_default(selector):
    from policies.guardrails.stack import denied_directions
    assert denied_directions(_np("x", {"podSelector": selector, "policyTypes": ["Ingress", "Egress"]})) == set()


def test_deny_in_two_policies_adds_up_and_other_namespaces_do_not_count():
    ingress = _np("deny-in", {"podSelector": {}, "policyTypes": ["Ingress"]})
    egress = _np("deny-out", {"podSelector": {}, "policyTypes": ["Egress"]})
    assert network_policies([deployment(), ingress, egress, allow_web()], CTX) == []
    elsewhere = _np("deny-out", {"podSelector": {}, "policyTypes": ["Egress"]}, ns="other")
    found = network_policies([deployment(), ingress, elsewhere, allow_web()], CTX)
    assert [m for _, m in found] == [
        "holds workloads but no NetworkPolicy denies Egress by default (podSelector: {} with no rules)"]


def test_the_finding_names_the_namespace_object_when_the_stack_has_it():
    ns_obj = {"kind": "Namespace", "metadata": {"name": NS, "labels": {"team": "events"}}}
    other = {"kind": "Namespace", "metadata": {"name": "other"}}
    found = network_policies([other, ns_obj, deployment(), allow_web()], CTX)
    assert len(found) == 1 and found[0][0] is ns_obj
    without = network_policies([deployment(), allow_web()], CTX)
    assert without[0][0] == {"kind": "Namespace", "metadata": {"name": NS}}


def test_a_targeted_policy_without_rules_is_not_an_allow():
    no_rules = _np("web", {"podSelector": {"matchLabels": dict(deployment()["spec"]["template"]["metadata"]["labels"])},
                           "policyTypes": ["Ingress"]})
    found = network_policies([deployment(), default_deny(), no_rules], CTX)
    assert [(o["kind"], m) for o, m in found] == [
        ("Deployment", "no NetworkPolicy selects its pods by label with an explicit allow rule")]
    egress_allow = _np("web-out", {**no_rules["spec"], "policyTypes": ["Egress"], "egress": [{}]})
    assert network_policies([deployment(), default_deny(), egress_allow], CTX) == []


def test_an_allow_for_other_pods_does_not_cover_this_workload():
    other = _np("api", {"podSelector": {"matchLabels": {"app": "someone-else"}}, "policyTypes": ["Ingress"],
                        "ingress": [{}]})
    found = network_policies([deployment(), default_deny(), other], CTX)
    assert len(found) == 1 and found[0][0]["kind"] == "Deployment"


def test_each_namespace_with_workloads_is_judged():
    second = deployment()
    second["metadata"] = {**second["metadata"], "namespace": "other"}
    found = network_policies([deployment(), second, default_deny(), allow_web()], CTX)
    assert sorted((o["kind"], o["metadata"].get("namespace", o["metadata"]["name"])) for o, _ in found) == [
        ("Deployment", "other"), ("Namespace", "other")]
