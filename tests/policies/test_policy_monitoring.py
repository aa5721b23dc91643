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


def _prom_config(*jobs):
    return {"kind": "ConfigMap", "metadata": {"name": "prom", "namespace": NS},
            "data": {"prometheus.yml": yaml.safe_dump({"scrape_configs": list(jobs)})}}


def _svc(**extra_labels):
    svc = service(job="web", ports=[{"name": "metrics", "port": 9121}, {"port": 80}])
    svc["metadata"]["labels"].update(extra_labels)
    svc["metadata"]["annotations"] = {"prometheus.io/port": "9121"}
    return svc


def _sd_scraped(*relabel, svc=None):
    job = {"job_name": "web", "kubernetes_sd_configs": [{"role": "endpoints"}], "relabel_configs": list(relabel)}
    return services_scraped([deployment(), svc or _svc(), _prom_config(job)], CTX) == []


def keep(source, regex=None, **rule):
    return {"action": "keep", "source_labels": source if isinstance(source, list) else [source],
            **({} if regex is None else {"regex": regex}), **rule}


@pytest.mark.parametrize("label, value", [
    ("__meta_kubernetes_namespace", NS), ("__meta_kubernetes_service_name", "web"),
    ("__meta_kubernetes_endpoint_port_name", "metrics"), ("__meta_kubernetes_service_port_name", "metrics"),
    ("__meta_kubernetes_service_label_app_kubernetes_io_name", "web"),
    ("__meta_kubernetes_service_labelpresent_app_kubernetes_io_name", "true"),
    ("__meta_kubernetes_service_label_Team_Name", "Payments"),
    ("__meta_kubernetes_service_annotation_prometheus_io_port", "9121")])
def test_kubernetes_sd_sees_the_labels_prometheus_gives_a_service(label, value):
    svc = _svc(**{"Team.Name": "Payments"})
    assert _sd_scraped(keep(label, value), svc=svc)
    assert not _sd_scraped(keep(label, value + "x"), svc=svc)


def test_an_unnamed_port_has_an_empty_port_name_and_a_missing_label_is_empty():
    assert _sd_scraped(keep("__meta_kubernetes_endpoint_port_name", ""))  # the second port has no name
    assert _sd_scraped(keep("__meta_kubernetes_service_port_name", ""))
    assert _sd_scraped(keep("__meta_kubernetes_service_label_absent", ""))
    assert not _sd_scraped(keep("__meta_kubernetes_service_label_absent", ".+"))


def test_relabel_rules_keep_drop_and_skip_as_prometheus_does():
    assert _sd_scraped(keep("__meta_kubernetes_namespace"))  # the default regex matches anything
    assert _sd_scraped(keep(["__meta_kubernetes_namespace", "__meta_kubernetes_service_name"], f"{NS};web"))
    assert _sd_scraped(keep(["__meta_kubernetes_namespace", "__meta_kubernetes_service_name"], f"{NS}/web",
                            separator="/"))
    assert not _sd_scraped({"action": "drop", "source_labels": ["__meta_kubernetes_service_name"], "regex": "web"})
    assert _sd_scraped({"action": "drop", "source_labels": ["__meta_kubernetes_service_name"], "regex": "api"})
    # Other actions cannot drop a target; a rule after them still judges it.
    replace = {"source_labels": ["__meta_kubernetes_service_name"], "regex": "nothing", "target_label": "x"}
    assert _sd_scraped(replace)
    assert not _sd_scraped(replace, keep("__meta_kubernetes_service_name", "api"))
    assert not _sd_scraped(keep("__meta_kubernetes_service_name", "("))  # a regex Prometheus would refuse


@pytest.mark.parametrize("host, names_it", [
    ("web", True), (f"web.{NS}", True), (f"web.{NS}.svc.cluster.local", True), ("web.ops", False),
    (f"api.{NS}", False), (f"web-0.web.{NS}", True), (f"web-0.web.{NS}.svc.cluster.local", True),
    ("web-0.web", False), ("web-0.web.ops", False), (f"web-0.api.{NS}", False)])
def test_a_static_target_names_the_service_or_one_of_its_pods(host, names_it):
    job = {"job_name": "web", "static_configs": [{"targets": [f"{host}:9121"]}]}
    assert (services_scraped([deployment(), _svc(), _prom_config(job)], CTX) == []) is names_it


def _prometheus(ns=NS, *, volume=None):
    prom = deployment("prometheus")
    prom["metadata"]["namespace"] = ns
    prom["spec"]["selector"] = {"matchLabels": {"app": "prometheus"}}
    prom["spec"]["template"]["metadata"]["labels"] = {"app": "prometheus"}
    prom["spec"]["template"]["spec"]["volumes"] = [
        {"name": "scratch", "emptyDir": {}}, volume or {"name": "config", "configMap": {"name": "prom"}}]
    return prom


def _prometheus_service(ns=NS):
    svc = service("prometheus", job="prometheus", ports=[{"name": "web", "port": 9090}])
    svc["metadata"]["namespace"] = ns
    svc["spec"]["selector"] = {"app": "prometheus"}
    return svc


SELF = {"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]}


@pytest.mark.parametrize("volume, scraped_itself", [
    (None, True),
    ({"name": "config", "projected": {"sources": [{"secret": {"name": "s"}}, {"configMap": {"name": "prom"}}]}}, True),
    ({"name": "config", "configMap": {"name": "other"}}, False),
    ({"name": "config", "projected": {"sources": [{"configMap": {"name": "other"}}]}}, False)])
def test_prometheus_scrapes_itself_over_loopback_from_the_pods_that_mount_its_config(volume, scraped_itself):
    found = services_scraped([_prometheus(volume=volume), _prometheus_service(), _prom_config(SELF)], CTX)
    assert (found == []) is scraped_itself


@pytest.mark.parametrize("target", ["localhost:9090", "127.0.0.1:9090", "[::1]:9090"])
def test_every_loopback_spelling_is_prometheus_itself(target):
    job = {"job_name": "prometheus", "static_configs": [{"targets": [target]}]}
    assert services_scraped([_prometheus(), _prometheus_service(), _prom_config(job)], CTX) == []


def test_a_config_in_another_namespace_is_not_the_one_prometheus_runs():
    other_ns = _prometheus("ops")
    found = services_scraped([other_ns, _prometheus_service("ops"), _prom_config(SELF)], CTX)
    assert len(found) == 1
    not_a_pod = {"kind": "ConfigMap", "metadata": {"name": "x", "namespace": NS}}
    assert len(services_scraped([not_a_pod, _prometheus_service(), _prom_config(SELF)], CTX)) == 1


@pytest.mark.parametrize("role, reaches", [("endpoints", True), ("endpointslice", True), ("service", True),
                                           ("pod", False), ("node", False)])
def test_kubernetes_sd_roles_that_reach_a_service(role, reaches):
    job = {"job_name": "web", "kubernetes_sd_configs": [{"role": role}]}
    assert (services_scraped([deployment(), _svc(), _prom_config(job)], CTX) == []) is reaches


def test_each_kubernetes_sd_config_of_a_job_is_tried_and_namespaces_narrow_it():
    def job(*sds):
        return {"job_name": "web", "kubernetes_sd_configs": list(sds)}

    def reached(j):
        return services_scraped([deployment(), _svc(), _prom_config(j)], CTX) == []

    assert reached(job({"role": "pod"}, {"role": "endpoints"}))
    assert reached(job({"role": "endpoints", "namespaces": {"names": ["ops"]}},
                       {"role": "endpoints", "namespaces": {"names": ["ops", NS]}}))
    assert not reached(job({"role": "endpoints", "namespaces": {"names": ["ops"]}}))
    assert reached(job({"role": "endpoints", "namespaces": {"names": []}}))


def test_dns_names_and_targets_with_ports_name_their_host():
    headless = service("web-headless")
    job = {"job_name": "web", "dns_sd_configs": [{"names": [f"web-headless.{NS}.svc.cluster.local:8000"]}]}
    assert services_scraped([deployment(), _svc(), headless, _prom_config(job)], CTX) == []


def test_the_scrape_annotation_alone_makes_a_service_monitored():
    svc = service()
    svc["metadata"]["annotations"] = {"prometheus.io/scrape": "true"}
    assert [m for _, m in services_scraped([deployment(), svc], CTX)] == [
        "fronts pods that expose metrics but no Prometheus job or ServiceMonitor scrapes it or its pods"]
    svc["metadata"]["annotations"] = {"prometheus.io/scrape": "false"}
    assert services_scraped([deployment(), svc], CTX) == []


def test_rule_files_after_a_prometheus_config_in_the_same_config_map_are_read():
    cm = _config_map(**{"prometheus.yml": "scrape_configs: []", "rules.yml": yaml.safe_dump(_rules("b"))})
    assert rule_files([cm], Context()) == [_rules("b")]


def _pods(*, annotations=None, ports=None, init_ports=None, kind="Deployment", ns=NS):
    d = deployment()
    d["kind"], d["metadata"]["namespace"] = kind, ns
    tpl = d["spec"]["template"]
    if annotations:
        tpl["metadata"]["annotations"] = annotations
    if ports is not None:
        tpl["spec"]["containers"][0]["ports"] = ports
    if init_ports is not None:
        tpl["spec"]["initContainers"] = [{"name": "init", "image": "x:1", "ports": init_ports}]
    return d


def _needs_scraping(workload):
    """Whether the plain Service in front of these pods must be scraped."""
    return services_scraped([workload, service()], CTX) != []


def test_pods_expose_metrics_by_annotation_or_a_metrics_port_of_a_long_running_container():
    assert _needs_scraping(_pods(annotations={"prometheus.io/scrape": "true"}))
    assert not _needs_scraping(_pods(annotations={"prometheus.io/scrape": "false"}))
    assert _needs_scraping(_pods(ports=[{"name": "http-metrics", "containerPort": 9100}]))
    assert not _needs_scraping(_pods(ports=[{"containerPort": 9100}]))
    assert not _needs_scraping(_pods(ports=[], init_ports=[{"name": "metrics", "containerPort": 9100}]))
    assert not _needs_scraping(_pods(kind="Job", ports=[{"name": "metrics", "containerPort": 9100}]))
    assert not _needs_scraping(_pods(kind="Job", annotations={"prometheus.io/scrape": "true"}))


def test_pods_in_another_namespace_are_not_behind_the_service():
    assert not _needs_scraping(_pods(ns="ops", ports=[{"name": "metrics", "containerPort": 9100}]))


def test_a_service_without_pods_is_scraped_when_a_job_names_it():
    lonely = service(job="web")
    lonely["spec"]["selector"] = {"app": "nothing-runs-here"}
    job = {"job_name": "web", "static_configs": [{"targets": ["web:80"]}]}
    assert services_scraped([deployment(), lonely, _prom_config(job)], CTX) == []
    assert len(services_scraped([deployment(), lonely, _prom_config()], CTX)) == 1


def _app(name):
    d = deployment(name)
    labels = {"app": name}
    d["spec"]["selector"] = {"matchLabels": labels}
    d["spec"]["template"]["metadata"]["labels"] = labels
    svc = service(name)
    svc["spec"]["selector"] = labels
    return d, svc


def test_every_monitored_service_marks_its_pods_as_monitored():
    d1, plain1 = _app("one")
    d2, plain2 = _app("two")
    monitored1, monitored2 = _app("one")[1], _app("two")[1]
    for svc, job in ((monitored1, "one"), (monitored2, "two")):
        svc["metadata"]["name"] = f"{job}-metrics"
        svc["metadata"]["labels"]["loadline.dev/job"] = job
    found = services_scraped([d1, d2, plain1, plain2, monitored1, monitored2], CTX)
    assert sorted(o["metadata"]["name"] for o, _ in found) == ["one", "one-metrics", "two", "two-metrics"]


def test_a_declared_job_reached_only_by_other_jobs_names_them_all():
    jobs = [{"job_name": name, "static_configs": [{"targets": ["web:80"]}]} for name in ("b-job", "a-job")]
    found = services_scraped([deployment(), service(job="web"), _prom_config(*jobs)], CTX)
    assert [m for _, m in found] == [
        "declares scrape job 'web' but no Prometheus job of that name and no ServiceMonitor reaches it or its "
        "pods (reached only by job a-job, b-job)"]


def test_a_dns_name_with_a_port_names_its_host():
    job = {"job_name": "web", "dns_sd_configs": [{"names": ["web-headless:8000"], "type": "A", "port": 8000}]}
    objs = [deployment(), _svc(), service("web-headless"), _prom_config(job)]
    assert services_scraped(objs, CTX) == []
